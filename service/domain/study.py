"""Study specs (what a client registers) and studies (a spec plus what has happened since)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .errors import InvalidInput
from .space import MAX_CHOICES, MAX_PARAMS, SearchSpace
from .trial import Trial, TrialState

STUDY_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DEFAULT_LEASE_SECONDS = 1800  # a training run reports back well within 30 minutes or heartbeats
DEFAULT_MAX_RETRIES = 2  # a configuration gets three chances before it is given up
MAX_LEASE_SECONDS = 7 * 86400  # a week: longer than any training run that still heartbeats


class Direction(StrEnum):
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"

    def better(self, a: float, b: float) -> bool:
        return a < b if self is Direction.MINIMIZE else a > b


def check_study_name(name: str) -> str:
    if not STUDY_NAME.match(name):
        raise InvalidInput(f"study name {name!r} must be 1-64 characters of A-Z a-z 0-9 . _ -", code="invalid_name")
    return name


@dataclass(frozen=True)
class StudySpec:
    """Everything a client sends when it registers a study; two workers agree iff specs are equal."""

    direction: Direction
    space: SearchSpace
    sampler: Mapping[str, Any]
    seed: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    max_retries: int = DEFAULT_MAX_RETRIES
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    pruner: Mapping[str, Any] = field(default_factory=lambda: {"name": "none"})

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], max_params: int = MAX_PARAMS, max_choices: int = MAX_CHOICES
    ) -> StudySpec:
        lease = data.get("lease_seconds", DEFAULT_LEASE_SECONDS)
        if not (isinstance(lease, (int, float)) and math.isfinite(lease) and lease > 0):
            raise InvalidInput("lease_seconds must be a positive number", code="invalid_lease")
        return cls(
            direction=Direction(data.get("direction", "minimize")),
            space=SearchSpace.from_list(data["space"], max_params, max_choices),
            sampler=dict(data["sampler"]),
            seed=data.get("seed"),
            metadata=dict(data.get("metadata") or {}),
            max_retries=int(data.get("max_retries", DEFAULT_MAX_RETRIES)),
            lease_seconds=lease,
            pruner=dict(data.get("pruner") or {"name": "none"}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction.value,
            "space": self.space.to_list(),
            "sampler": dict(self.sampler),
            "seed": self.seed,
            "metadata": dict(self.metadata),
            "max_retries": self.max_retries,
            "lease_seconds": self.lease_seconds,
            "pruner": dict(self.pruner),
        }

    def differences(self, other: StudySpec) -> list[str]:
        """Names of the fields that differ, down to single params: `space[lr].high`."""
        mine, theirs = self.to_dict(), other.to_dict()
        diffs = [key for key in mine if key != "space" and mine[key] != theirs[key]]
        my_params = {p["name"]: p for p in mine["space"]}
        their_params = {p["name"]: p for p in theirs["space"]}
        for name in sorted(set(my_params) | set(their_params)):
            if name not in my_params or name not in their_params:
                diffs.append(f"space[{name}]")
                continue
            a, b = my_params[name], their_params[name]
            diffs.extend(f"space[{name}].{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
        if not diffs and [p["name"] for p in mine["space"]] != [p["name"] for p in theirs["space"]]:
            diffs.append("space (param order)")
        return diffs


@dataclass(frozen=True)
class Study:
    name: str
    uid: str
    spec: StudySpec
    created_at: float
    paused: bool
    effective_seed: int
    counts: Mapping[TrialState, int]
    best: Trial | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
