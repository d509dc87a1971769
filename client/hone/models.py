"""What the server sends, as frozen values: trials and studies as they were when read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

__all__ = ["FrozenTrial", "Importance", "StudyInfo", "TrialState"]


class TrialState(str, Enum):
    """A trial's state; the values are the wire strings."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    PRUNED = "pruned"
    EXPIRED = "expired"

    def __str__(self) -> str:
        return self.value


def parse_time(stamp: str | None) -> datetime | None:
    """The server's `2026-11-28T09:00:00.000Z` as an aware datetime (3.9's fromisoformat has no `Z`)."""
    return None if stamp is None else datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@dataclass(frozen=True)
class FrozenTrial:
    """A trial as the server last described it. `data` is the JSON itself, fields unknown here included.

    `id` names this trial of this incarnation of its study: tell, heartbeat and report address it by
    that, so nothing reaches a trial of the same number in a study deleted and created again since.
    """

    number: int
    params: Mapping[str, Any]
    state: TrialState
    value: float | None
    worker: str | None = None
    error: str | None = None
    source: str | None = None
    level: int | None = None
    attempt: int = 0
    retry_of: int | None = None
    asked_at: datetime | None = None
    finished_at: datetime | None = None
    lease_expires_at: datetime | None = None
    note: str | None = None
    id: str = ""
    data: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FrozenTrial:
        return cls(
            id=data["id"],
            number=data["number"],
            params=dict(data.get("params") or {}),
            state=TrialState(data["state"]),
            value=data.get("value"),
            worker=data.get("worker"),
            error=data.get("error"),
            source=data.get("source"),
            level=data.get("level"),
            attempt=data.get("attempt") or 0,
            retry_of=data.get("retry_of"),
            asked_at=parse_time(data.get("asked_at")),
            finished_at=parse_time(data.get("finished_at")),
            lease_expires_at=parse_time(data.get("lease_expires_at")),
            note=data.get("note"),
            data=dict(data),
        )


@dataclass(frozen=True)
class StudyInfo:
    """A study's spec, trial counts by state (`total` included) and best trial, as read."""

    name: str
    direction: str
    space: list[dict[str, Any]]
    sampler: Mapping[str, Any]
    seed: int | None
    effective_seed: int | None
    metadata: Mapping[str, Any]
    max_retries: int
    lease_seconds: float
    state: str
    created_at: datetime | None
    counts: Mapping[str, int]
    best: FrozenTrial | None
    pruner: Mapping[str, Any] = field(default_factory=dict)
    note: str | None = None
    queued: int = 0
    warm_start: Mapping[str, Any] | None = None  # where a warm start came from and what it carried over
    data: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StudyInfo:
        best = data.get("best")
        return cls(
            name=data["name"],
            direction=data["direction"],
            space=list(data["space"]),
            sampler=dict(data.get("sampler") or {}),
            seed=data.get("seed"),
            effective_seed=data.get("effective_seed"),
            metadata=dict(data.get("metadata") or {}),
            max_retries=data.get("max_retries", 0),
            lease_seconds=data["lease_seconds"],
            state=data.get("state", "active"),
            created_at=parse_time(data.get("created_at")),
            counts=dict(data.get("counts") or {}),
            best=FrozenTrial.from_json(best) if best else None,
            pruner=dict(data.get("pruner") or {}),
            note=data.get("note"),
            queued=data.get("queued", 0),
            warm_start=data.get("warm_start"),
            data=dict(data),
        )


@dataclass(frozen=True)
class Importance:
    """Each param's importance for the objective, as read: `params` maps a name to its share (0 to 1,
    summing to 1), most important first; `trials` of the study's `complete` trials were used
    (a random sample when `sampled`)."""

    params: Mapping[str, float]
    trials: int
    complete: int
    sampled: bool
    method: str
    data: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Importance:
        return cls(
            params={p["param"]: p["importance"] for p in data["params"]},
            trials=data["trials"],
            complete=data["complete"],
            sampled=data["sampled"],
            method=data["method"],
            data=dict(data),
        )
