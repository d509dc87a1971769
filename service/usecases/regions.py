"""The sampler's levels as the notes draw them: each level's region in param units, its trials
and its best value. Coarse-to-fine zooms add levels; other samplers have one, the whole space."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..config import Limits
from ..domain.errors import Conflict, InvalidInput, SpaceError
from ..domain.space import CategoricalParam, SearchSpace
from ..domain.stored import RegionRecord
from ..metrics import ZOOMS
from ..samplers.base import Region, RegionEdit
from ..storage.store import Store
from .studies import Studies, StudyHandle, on_incarnation, warm_note


@dataclass(frozen=True)
class Level:
    level: int
    box: dict[str, dict[str, Any]]
    basins: list[dict[str, dict[str, Any]]]
    asked: int
    finished: int
    reached_first_rung: int
    best: float | None
    by: str
    note: str
    created_at: float
    first_draw: int


@dataclass(frozen=True)
class LevelPage:
    current: int
    levels: list[Level]
    next_cursor: str | None


def region_box(space: SearchSpace, region: Region) -> dict[str, dict[str, Any]]:
    """A region in param units: low/high on each numeric param's own scale, the kept choices of
    each categorical. A param the region does not narrow spans its whole range."""
    out: dict[str, dict[str, Any]] = {}
    for param in space.params:
        if isinstance(param, CategoricalParam):
            kept = region.keep.get(param.name, range(len(param.choices)))
            out[param.name] = {"choices": [param.choices[i] for i in kept]}
        else:
            low, high = region.box.get(param.name, (0.0, 1.0))
            out[param.name] = {"low": param.from_unit(low), "high": param.from_unit(high)}
    return out


MAX_EDIT_ATTEMPTS = 5  # a hand edit retries when a zoom moved the level between its read and write


class Regions:
    def __init__(self, studies: Studies, store: Store, limits: Limits) -> None:
        self.studies = studies
        self.store = store
        self.limits = limits

    @on_incarnation
    def edit(
        self,
        handle: StudyHandle,
        param: str,
        *,
        low: Any = None,
        high: Any = None,
        value: Any = None,
        choices: Sequence[Any] | None = None,
        note: str,
        by: str,
    ) -> Level:
        """Narrow, widen or pin one param by hand: a new level, used from the next ask on."""
        change = _region_edit(handle.spec.space, param, low, high, value, choices)
        for _ in range(MAX_EDIT_ATTEMPTS):
            state = self.store.current_header(handle.keys).state
            asked = self.store.levels(handle.keys, [state.level])[0].asked
            data = handle.sampler.edit(state, asked, change)
            if data is None:
                raise Conflict(
                    f"the {handle.sampler.name} sampler has no region to change; hand edits need coarse_to_fine",
                    code="no_regions",
                )
            if self.store.advance(handle.keys, state.version, RegionRecord(by=by, note=note, state=data)):
                ZOOMS.inc()
                return self._page(handle, state.level + 1, 1).levels[0]
        raise Conflict("the study's level kept changing; try again", code="region_busy")

    def page(self, name: str, cursor: int | None, limit: int) -> LevelPage:
        """Levels from `cursor` (0 when None) on, oldest first."""
        self.limits.check_page_size(limit)
        return self.studies.run(name, lambda handle: self._page(handle, cursor, limit))

    def _page(self, handle: StudyHandle, cursor: int | None, limit: int) -> LevelPage:
        header = self.store.current_header(handle.keys)
        current = header.state.level
        first = cursor or 0
        numbers = list(range(first, min(first + limit, current + 1)))
        levels = []
        for row in self.store.levels(handle.keys, numbers):
            # Level 0 is the sampler's initial state; only later levels are recorded.
            region = row.region or RegionRecord(
                by=handle.sampler.name,
                note=warm_note(header) or "the whole space",
                state=handle.sampler.initial_state(),
                created_ms=header.created_ms,
            )
            shown = handle.sampler.region(region.state)
            levels.append(
                Level(
                    level=row.level,
                    box=region_box(handle.spec.space, shown),
                    basins=[region_box(handle.spec.space, basin) for basin in shown.basins],
                    asked=row.asked,
                    finished=row.done,
                    reached_first_rung=row.reported,
                    best=row.best,
                    by=region.by,
                    note=region.note,
                    created_at=region.created_ms / 1000,
                    first_draw=region.first_draw,
                )
            )
        more = numbers and numbers[-1] < current
        return LevelPage(current, levels, str(numbers[-1] + 1) if more else None)


def _region_edit(
    space: SearchSpace, name: str, low: Any, high: Any, value: Any, choices: Sequence[Any] | None
) -> RegionEdit:
    """Check a hand edit against the space and put it on the param's unit scale."""
    param = space.by_name.get(name)
    if param is None:
        raise InvalidInput(f"{name!r} is not a param of this study", code="invalid_region")
    try:
        if isinstance(param, CategoricalParam):
            if value is not None and choices is None:
                choices = [value]
            if not choices or low is not None or high is not None:
                raise InvalidInput(
                    f"{name!r} is categorical: give the choices to keep (or one value to pin)", code="invalid_region"
                )
            return RegionEdit(name, keep=tuple(sorted({param.index(c) for c in choices})))
        if choices is not None:
            raise InvalidInput(f"{name!r} is numeric: give low and high, or a value to pin", code="invalid_region")
        if value is not None and low is None and high is None:
            unit = param.to_unit(param.normalize(value))
            return RegionEdit(name, low=unit, high=unit)
        if low is None or high is None or value is not None:
            raise InvalidInput(f"give {name!r} both low and high, or only a value to pin", code="invalid_region")
        low_unit, high_unit = param.to_unit(param.normalize(low)), param.to_unit(param.normalize(high))
    except SpaceError as exc:
        raise InvalidInput(exc.message, code="invalid_region", details=exc.details) from None
    if not low_unit < high_unit:
        raise InvalidInput(f"low must be below high for {name!r}", code="invalid_region")
    return RegionEdit(name, low=low_unit, high=high_unit)
