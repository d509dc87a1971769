"""Trials as frozen value objects, and the states a trial moves through."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class TrialState(StrEnum):
    """Values are the wire strings. running -> one of the finished states; expired may still be told."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    PRUNED = "pruned"
    EXPIRED = "expired"


TOLD_STATES = (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED)
# How a page of trials may be ordered: by number up or down, or best value first (complete trials).
TRIAL_ORDERS = ("number", "-number", "value")


@dataclass(frozen=True)
class Outcome:
    """What a worker tells about a trial."""

    state: TrialState
    value: float | None = None
    error: str | None = None

    def same_as(self, told: Outcome) -> bool:
        """Whether `told`, a tell received now, repeats this recorded outcome."""
        if told.state is TrialState.PRUNED and told.value is None and self.state is TrialState.PRUNED:
            return told.error == self.error  # the value was filled in from the trial's curve
        return (self.state, self.value, self.error) == (told.state, told.value, told.error)


@dataclass(frozen=True)
class Trial:
    number: int
    params: Mapping[str, Any]
    state: TrialState
    value: float | None
    worker: str | None
    asked_at: float
    finished_at: float | None
    source: str
    level: int | None
    attempt: int = 0
    retry_of: int | None = None
    error: str | None = None
    lease_expires_at: float | None = None
    note: str | None = None

    @property
    def outcome(self) -> Outcome:
        return Outcome(self.state, self.value, self.error)
