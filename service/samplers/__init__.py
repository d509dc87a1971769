"""Sampler registry: a study names its sampler; options are validated by the sampler's own schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain.study import StudySpec
from ..options import normalize_named
from .base import Advance, Draw, LevelProgress, Ranking, Sampler, SamplerState, Scored
from .coarse_to_fine import CoarseToFineSampler
from .grid import GridSampler
from .random import RandomSampler

SAMPLERS: dict[str, type[Sampler]] = {cls.name: cls for cls in (CoarseToFineSampler, GridSampler, RandomSampler)}
DEFAULT_SAMPLER = "coarse_to_fine"

__all__ = [
    "DEFAULT_SAMPLER",
    "SAMPLERS",
    "Advance",
    "Draw",
    "LevelProgress",
    "Ranking",
    "Sampler",
    "SamplerState",
    "Scored",
    "make_sampler",
    "normalize_sampler",
]


def normalize_sampler(raw: Mapping[str, Any] | None, stored: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`{"name": ..., **options}` with defaults filled in, so equal intents compare equal; read
    against a `stored` sampler spec, a left-out option keeps a value that was once its default."""
    schemas = {name: cls.options_schema for name, cls in SAMPLERS.items()}
    return normalize_named("sampler", raw, schemas, DEFAULT_SAMPLER, stored)


def make_sampler(spec: StudySpec, seed: int) -> Sampler:
    options = dict(spec.sampler)
    cls = SAMPLERS[options.pop("name")]
    return cls(spec.space, options, seed, spec.direction)
