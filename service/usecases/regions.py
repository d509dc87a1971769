"""The sampler's levels as the notes draw them: each level's region in param units, its trials
and its best value. Coarse-to-fine zooms add levels; other samplers have one, the whole space."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..domain.space import CategoricalParam, SearchSpace
from ..storage.store import StaleStudy, Store
from .studies import Studies, StudyHandle


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
    box, keep = state.get("box", {}), state.get("keep", {})
    out: dict[str, dict[str, Any]] = {}
    for param in space.params:
        if isinstance(param, CategoricalParam):
            kept = keep.get(param.name, range(len(param.choices)))
            out[param.name] = {"choices": [param.choices[i] for i in kept]}
        else:
            low, high = box.get(param.name, (0.0, 1.0))
            out[param.name] = {"low": param.from_unit(low), "high": param.from_unit(high)}
    return out


class Regions:
    def __init__(self, studies: Studies, store: Store) -> None:
        self.studies = studies
        self.store = store

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
                    record: dict[str, Any] = {"by": handle.sampler.name, "note": "the whole space", "state": state}
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
