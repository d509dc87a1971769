"""Param importance as a value: each param's share of what decides the objective, and what it came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParamImportance:
    param: str
    importance: float  # share of the total, 0 to 1; the shares of all params sum to 1 (or all are 0)
    score: float  # mean drop of the forest's R^2 when the param is shuffled
    std: float


@dataclass(frozen=True)
class Importance:
    params: tuple[ParamImportance, ...]  # most important first
    trials: int  # complete trials the forest was fitted on
    complete: int  # complete trials the study had
    sampled: bool  # trials < complete: a random sample
    method: str
