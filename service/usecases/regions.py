"""The sampler's levels as the notes draw them: each level's region in param units, its trials
and its best value. Coarse-to-fine zooms add levels; other samplers have one, the whole space."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.errors import Conflict, InvalidInput, SpaceError
from ..domain.space import CategoricalParam, SearchSpace
from ..metrics import ZOOMS
from ..samplers.base import RegionEdit, SamplerState
from ..storage.store import StaleStudy, Store
from .studies import Studies, StudyHandle, warm_note


@dataclass(frozen=True)
class Level:
    level: int
    box: dict[str, dict[str, Any]]
    asked: int
    finished: int
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


def region_box(space: SearchSpace, state: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A sampler state's region in param units: low/high on each numeric param's own scale, the
    kept choices of each categorical. A param the state does not narrow spans its whole range."""
    # Hand limits are the whole space of their params; the zoomed box and kept choices lie inside.
    box = {**state.get("bounds", {}), **state.get("box", {})}
    keep = {**state.get("allowed", {}), **state.get("keep", {})}
    out: dict[str, dict[str, Any]] = {}
    for param in space.params:
        if isinstance(param, CategoricalParam):
            kept = keep.get(param.name, range(len(param.choices)))
            out[param.name] = {"choices": [param.choices[i] for i in kept]}
        else:
            low, high = box.get(param.name, (0.0, 1.0))
            out[param.name] = {"low": param.from_unit(low), "high": param.from_unit(high)}
    return out


MAX_EDIT_ATTEMPTS = 5  # a hand edit retries when a zoom moved the level between its read and write


class Regions:
    def __init__(self, studies: Studies, store: Store) -> None:
        self.studies = studies
        self.store = store

    def edit(
        self,
        name: str,
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

        def run(handle: StudyHandle) -> Level:
            change = _region_edit(handle.spec.space, param, low, high, value, choices)
            for _ in range(MAX_EDIT_ATTEMPTS):
                header = self.store.header(name)
                if header is None or header.uid != handle.uid:
                    raise StaleStudy("no such study", code="study_not_found")
                level, version = int(header.fields["level"]), int(header.fields["sver"])
                state = SamplerState(level=level, version=version, data=json.loads(header.fields["sstate"]))
                asked = self.store.levels(handle.keys, [level])[0].asked
                data = handle.sampler.edit(state, asked, change)
                if data is None:
                    raise Conflict(
                        f"the {handle.sampler.name} sampler has no region to change; hand edits need coarse_to_fine",
                        code="no_regions",
                    )
                region = {"by": by, "note": note, "state": data}
                if self.store.advance(handle.keys, version, json.dumps(data), json.dumps(region)):
                    ZOOMS.inc()
                    return self.page(name, level + 1, 1).levels[0]
            raise Conflict("the study's level kept changing; try again", code="region_busy")

        return self.studies.with_handle(name, run)

    def page(self, name: str, cursor: int | None, limit: int) -> LevelPage:
        """Levels from `cursor` (0 when None) on, oldest first."""

        def run(handle: StudyHandle) -> LevelPage:
            header = self.store.header(name)
            if header is None or header.uid != handle.uid:
                raise StaleStudy("no such study", code="study_not_found")
            current = int(header.fields.get("level", 0))
            first = cursor or 0
            numbers = list(range(first, min(first + limit, current + 1)))
            levels = []
            for row in self.store.levels(handle.keys, numbers):
                if row.region is None:
                    # Level 0 is the sampler's initial state; only later levels are recorded.
                    state = handle.sampler.initial_state()
                    note = warm_note(header.fields) or "the whole space"
                    record: dict[str, Any] = {"by": handle.sampler.name, "note": note, "state": state}
                    created, start = header.created_ms, 0
                else:
                    record = json.loads(row.region)
                    created, start = record["at"], record["start"]
                levels.append(
                    Level(
                        level=row.level,
                        box=region_box(handle.spec.space, record["state"]),
                        asked=row.asked,
                        finished=row.done,
                        best=row.best,
                        by=record["by"],
                        note=record["note"],
                        created_at=created / 1000,
                        first_draw=start,
                    )
                )
            more = numbers and numbers[-1] < current
            return LevelPage(current, levels, str(numbers[-1] + 1) if more else None)

        return self.studies.with_handle(name, run)


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
