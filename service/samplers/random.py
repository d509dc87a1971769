"""Random search on each param's own scale (log-uniform for log params, as the notes advise)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Draw, Sampler, SamplerState


class RandomSampler(Sampler):
    name = "random"

    def suggest(self, draw: Draw, state: SamplerState) -> dict[str, Any]:
        # Seeding by (study seed, trial number) makes a trial's params independent of which
        # worker asked and in what order.
        rng = np.random.default_rng([self.seed, draw.number, draw.attempt])
        return self.space.decode(rng.random(len(self.space)).tolist())
