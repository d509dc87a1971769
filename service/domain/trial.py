"""Trials as frozen value objects, and the states a trial moves through."""

from __future__ import annotations

import re
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
MAX_ERROR = 10_000  # characters of a failed trial's error: the end of a traceback says most


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


TRIAL_ID = re.compile(r"^([0-9a-f]{1,32})-(0|[1-9][0-9]{0,17})$")


@dataclass(frozen=True)
class TrialRef:
    """One trial of one incarnation of a study: what a trial's `id` names.

    Trial numbers start from 0 again when a study is deleted and created again; the incarnation
    (the study's uid) tells the two trial 3s apart, so a worker of the old one cannot touch the new.
    """

    incarnation: str
    number: int

    @property
    def id(self) -> str:
        return f"{self.incarnation}-{self.number}"

    @classmethod
    def parse(cls, trial_id: str) -> TrialRef | None:
        """The trial an id names; None when the text is no trial id at all."""
        match = TRIAL_ID.fullmatch(trial_id)
        return cls(match[1], int(match[2])) if match else None


@dataclass(frozen=True)
class Trial:
    number: int
    incarnation: str
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
    def id(self) -> str:
        return TrialRef(self.incarnation, self.number).id

    @property
    def outcome(self) -> Outcome:
        return Outcome(self.state, self.value, self.error)
