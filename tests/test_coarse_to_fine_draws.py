"""Coarse-to-fine's draws inside a zoomed level are all distinct, the recombined ones included.

Recombination takes each param from one of the elite trials and jitters it inside the level's box.
The elite need not lie inside the box (a box at most SHRINK of the last one is narrower than the
spread of the best trials), and a jittered value that was clipped to the box's edge put every such
draw on the very same edge value: with two floats and a categorical, concurrent trials got equal
params. A value that leaves the box must land inside it at a place that depends on the draw.
"""

from __future__ import annotations

import json
from collections import Counter

from service.domain.space import SearchSpace
from service.domain.study import Direction, StudySpec
from service.samplers import Draw, SamplerState, make_sampler, normalize_sampler
from service.samplers.coarse_to_fine import ELITE

SPACE = SearchSpace.from_list(
    [
        {"name": "lr", "type": "float", "low": 1e-5, "high": 1e-1, "scale": "log"},
        {"name": "beta", "type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"},
        {"name": "act", "type": "categorical", "choices": ["relu", "tanh", "gelu"]},
    ]
)
# A zoomed level as `advance` leaves it: the box centred on the best trial, narrower than the
# spread of the elite, two of which lie outside it (below on lr, above on beta).
BOX = {"lr": [0.40, 0.46], "beta": [0.50, 0.56]}
ELITE_UNITS = [[0.43, 0.53, 1 / 6], [0.30, 0.70, 1 / 6], [0.25, 0.80, 1 / 6]]


def _zoomed_state() -> SamplerState:
    assert len(ELITE_UNITS) == ELITE
    data = {"before": 16, "budget": 10, "best": 0.1, "stall": 0, "box": BOX, "keep": {"act": [0]}, "elite": ELITE_UNITS}
    return SamplerState(level=1, version=1, level_start=16, data=data)


def test_draws_of_a_zoomed_level_never_repeat_a_configuration() -> None:
    spec = StudySpec(direction=Direction.MINIMIZE, space=SPACE, sampler=normalize_sampler({"name": "coarse_to_fine"}))
    sampler = make_sampler(spec, 3)
    state = _zoomed_state()
    draws = [sampler.suggest(Draw(number, number), state) for number in range(16, 2016)]
    repeated = {key: n for key, n in Counter(json.dumps(d, sort_keys=True) for d in draws).items() if n > 1}
    assert repeated == {}
