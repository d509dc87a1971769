"""Intermediate results: learning-curve points, the pruner's verdict, and reading curves back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..config import Limits
from ..domain.errors import Conflict, InvalidInput
from ..domain.stored import Finished
from ..domain.trial import TrialState
from ..pruners import plan
from ..storage.store import Store
from .studies import Studies, StudyHandle, on_study


@dataclass(frozen=True)
class Curve:
    number: int
    points: list[tuple[int, float]]


class Reports:
    def __init__(self, studies: Studies, store: Store, limits: Limits) -> None:
        self.studies = studies
        self.store = store
        self.limits = limits

    @on_study
    def report(self, handle: StudyHandle, number: int, step: int, value: float) -> bool:
        """Record value at step for a running trial; True when the pruner says stop."""
        reply = self.store.report(
            handle.keys,
            number,
            step,
            value,
            plan(handle.spec.pruner, step),
            self.limits.max_curve_points,
            handle.spec.direction.value,
        )
        if isinstance(reply, Finished):
            state = reply.trial.state
            code = "trial_expired" if state is TrialState.EXPIRED else "trial_finished"
            raise Conflict(f"trial {number} is {state.value}; only running trials report", code=code)
        return reply.prune

    def curves(self, name: str, numbers: Sequence[int], max_points: int) -> list[Curve]:
        if len(numbers) > self.limits.max_page_size:
            raise InvalidInput(f"at most {self.limits.max_page_size} trials per request", code="invalid_numbers")
        return self._curves(name, numbers, max_points)

    @on_study
    def _curves(self, handle: StudyHandle, numbers: Sequence[int], max_points: int) -> list[Curve]:
        curves = self.store.curves(handle.keys, numbers)
        return [Curve(n, _thin(points, max_points)) for n, points in zip(numbers, curves, strict=True)]


def _thin(points: list[tuple[int, float]], max_points: int) -> list[tuple[int, float]]:
    """Every k-th point and the last, so a long curve keeps its shape in few points."""
    if len(points) <= max_points:
        return points
    stride = -(-len(points) // max_points)
    thinned = points[::stride]
    if thinned[-1] != points[-1]:
        thinned[-1] = points[-1]
    return thinned
