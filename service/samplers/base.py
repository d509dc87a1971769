"""The one small interface every sampler implements.

A sampler is stateless Python: it turns a draw (trial number and draw index) into params, working
in the unit cube through the space's bijections. What must be shared between service processes
(the coarse-to-fine level, its region) lives in Redis and reaches the sampler as a SamplerState.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import marshmallow as ma

from ..domain.space import SearchSpace
from ..domain.stored import JudgePoint, LevelProgress, Ranking, SamplerState
from ..domain.study import Direction

__all__ = [
    "Advance",
    "Draw",
    "JudgePoint",
    "LevelProgress",
    "Ranking",
    "Region",
    "RegionEdit",
    "Sampler",
    "SamplerState",
    "Scored",
    "TopLoader",
]


@dataclass(frozen=True)
class Draw:
    number: int  # the trial number: seeds the random stream, so one number gives one configuration
    index: int  # the study-wide draw counter: a grid position or a place in a space-filling sequence
    attempt: int = 0  # > 0 when an earlier draw repeated a configuration of the batch or the study


@dataclass(frozen=True)
class Scored:
    """A finished trial as a sampler sees it: its unit-cube point (None where inactive) and value."""

    unit: Sequence[float | None]
    value: float


# Loads the study's k best trials by a ranking, best first; called only when a level may change.
TopLoader = Callable[[int, Ranking], Sequence[Scored]]


@dataclass(frozen=True)
class Advance:
    """A sampler's decision to move to a new level: its shared state and a note on why."""

    data: Mapping[str, Any]
    note: str


@dataclass(frozen=True)
class RegionEdit:
    """A hand change to one param's region, on its unit scale: a new [low, high] for a numeric
    param (low == high pins it), or the choices a categorical keeps."""

    param: str
    low: float | None = None
    high: float | None = None
    keep: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Region:
    """The part of the space a level draws from, on the unit scale: [low, high] of each numeric
    param it narrows, the kept choice indexes of each categorical it narrows. A level that keeps
    several basins draws from `box` and `keep` (the main basin, holding the best) and the others'."""

    box: Mapping[str, Sequence[float]] = field(default_factory=dict)
    keep: Mapping[str, Sequence[int]] = field(default_factory=dict)
    basins: Sequence[Region] = ()


class NoOptions(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class Sampler(ABC):
    name: ClassVar[str]
    options_schema: ClassVar[type[ma.Schema]] = NoOptions
    # Configurations the sampler chose deliberately (grid points) are offered again after a failure.
    retries_failed: ClassVar[bool] = False
    # The most trials `advance` reads through its TopLoader: the ask that judges a level gets
    # that many best trials with its reservation, in the same Redis round trip.
    top_read: ClassVar[int] = 0

    def __init__(self, space: SearchSpace, options: Mapping[str, Any], seed: int, direction: Direction) -> None:
        self.space = space
        self.options = options
        self.seed = seed
        self.direction = direction

    def initial_state(self) -> dict[str, Any]:
        """The shared state a new study starts with."""
        return {}

    def size(self) -> int | None:
        """How many draws exist; None when the sampler never runs out."""
        return None

    def advance(self, state: SamplerState, progress: LevelProgress, top: TopLoader) -> Advance | None:
        """Called after a reservation that reached the level's judge point, with the level's counts
        (this reservation included): a new level's state, or None to stay. The default never moves."""
        return None

    def judged_at(self, state: SamplerState) -> JudgePoint | None:
        """The asked and finished counts of this level from which `advance` may move it (None:
        never). Below either, ask.lua hands out draws prepared ahead without calling `advance`."""
        return None

    def region(self, data: Mapping[str, Any]) -> Region:
        """The region a level with this shared state draws from. The default: the whole space."""
        return Region()

    def edit(self, state: SamplerState, asked: int, change: RegionEdit) -> Mapping[str, Any] | None:
        """The state of a new level with one param's region changed by hand (`asked`: trials of
        the current level so far); None when this sampler has no region to change."""
        return None

    @abstractmethod
    def suggest(self, draw: Draw, state: SamplerState) -> dict[str, Any]:
        """Params for one draw; the same draw and state always give the same params."""
