"""Random search on each param's own scale (log-uniform for log params, as the notes advise)."""

from __future__ import annotations

import random
from typing import Any

from .base import Draw, Sampler, SamplerState


class RandomSampler(Sampler):
    name = "random"

    def suggest(self, draw: Draw, state: SamplerState) -> dict[str, Any]:
        # Seeding by (study seed, trial number) makes a trial's params independent of which
        # worker asked and in what order. Python's Mersenne Twister seeded from an int is a
        # documented, stable stream, and seeding it costs microseconds.
        rng = random.Random((self.seed << 64) | (draw.number << 8) | draw.attempt)
        return self.space.decode([rng.random() for _ in self.space.params])
