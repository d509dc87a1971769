"""Sampler registry: a study names its sampler; options are validated by the sampler's own schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma

from ..domain.errors import InvalidInput
from ..domain.study import StudySpec
from .base import Advance, Draw, Sampler, SamplerState, Scored
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
    "Sampler",
    "SamplerState",
    "Scored",
    "make_sampler",
    "normalize_sampler",
]


def normalize_sampler(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """`{"name": ..., **options}` with defaults filled in, so equal intents compare equal."""
    raw = dict(raw or {})
    name = raw.pop("name", DEFAULT_SAMPLER)
    cls = SAMPLERS.get(name)
    if cls is None:
        raise InvalidInput(
            f"unknown sampler {name!r}; choose one of {sorted(SAMPLERS)}",
            code="invalid_sampler",
            details={"sampler": [f"unknown sampler {name!r}"]},
        )
    try:
        options = cls.options_schema().load(raw)
    except ma.ValidationError as exc:
        raise InvalidInput(
            f"invalid options for sampler {name!r}", code="invalid_sampler", details={"sampler": exc.messages}
        ) from None
    return {"name": name, **options}


def make_sampler(spec: StudySpec, seed: int) -> Sampler:
    options = dict(spec.sampler)
    cls = SAMPLERS[options.pop("name")]
    return cls(spec.space, options, seed, spec.direction)
