"""Coarse-to-fine late in a run: a best on the region's edge widens the region, and a restart searches
a box around the best that widens with each restart before one from the whole space.

Both are `advance`'s maths on the unit scale, so these call the sampler directly, without Redis.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.domain.space import SearchSpace
from service.domain.study import Direction, StudySpec
from service.samplers import LevelProgress, SamplerState, Scored, make_sampler, normalize_sampler
from service.samplers.base import Advance, Sampler
from service.samplers.coarse_to_fine import RESTART_GROWTH, RESTART_WIDTH, SHRINK

SPACE = SearchSpace.from_list(
    [
        {"name": "x", "type": "float", "low": 0.0, "high": 1.0},
        {"name": "y", "type": "float", "low": 0.0, "high": 1.0},
        {"name": "act", "type": "categorical", "choices": ["relu", "tanh"]},
    ]
)
FLOOR_BOX = {"x": [0.49, 0.51], "y": [0.49, 0.51]}  # at the default floor of 0.02: converged


def _sampler() -> Sampler:
    spec = StudySpec(direction=Direction.MINIMIZE, space=SPACE, sampler=normalize_sampler({"name": "coarse_to_fine"}))
    return make_sampler(spec, 0)


def _advance(sampler: Sampler, data: dict[str, Any], trials: Sequence[Scored]) -> Advance:
    """`advance` at the end of a level of 10 trials, all finished, over these trials (best first)."""
    state = SamplerState(level=3, version=3, level_start=60, data=data)
    move = sampler.advance(state, LevelProgress(asked=10, done=10), lambda n, _: list(trials)[:n])
    assert move is not None
    json.loads(json.dumps(move.data))  # shared state: JSON as it is stored
    return move


def _stalled(restarts: int, best: Sequence[float], **data: Any) -> Advance:
    """The zoom that judges a converged level with no improvement on the study's best."""
    level = {"before": 60, "budget": 10, "best": 1.0, "stall": 0, "box": FLOOR_BOX, "keep": {}, **data}
    if restarts:
        level["restarts"] = restarts
    trials = [Scored([*best, 0.25], 1.0)] + [Scored([0.5 + i / 100, 0.5, 0.25], 2.0) for i in range(9)]
    return _advance(_sampler(), level, trials)


def test_a_best_on_the_regions_edge_widens_the_region() -> None:
    old = {"x": [0.40, 0.50], "y": [0.40, 0.50]}
    data = {"before": 40, "budget": 10, "best": 2.0, "stall": 0, "box": old, "keep": {}}
    # The best presses against the box's upper edge on x and sits in its middle on y.
    trials = [Scored([0.499, 0.45, 0.25], 1.0)] + [Scored([0.40 + i / 100, 0.45, 0.25], 2.0) for i in range(9)]
    move = _advance(_sampler(), data, trials)
    low, high = move.data["box"]["x"]
    assert math.isclose(high - low, 0.10 / SHRINK) and low < 0.499 < high and high > 0.50
    low, high = move.data["box"]["y"]
    assert high - low <= 0.10 * SHRINK + 1e-12


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.integers(0, 2))
def test_a_restart_searches_a_box_around_the_best_wider_each_time(x: float, y: float, restarts: int) -> None:
    move = _stalled(restarts, [x, y])
    width = RESTART_WIDTH * RESTART_GROWTH**restarts
    assert width < 1 and "restart in a box" in move.note
    assert move.data["restarts"] == restarts + 1 and move.data["stall"] == 0
    assert move.data["budget"] == 16 and "elite" not in move.data  # level 0 again, space-filling the box
    for name, u in {"x": x, "y": y}.items():
        low, high = move.data["box"][name]
        assert 0 <= low <= u <= high <= 1 and math.isclose(high - low, width)
    assert "act" not in move.data["box"]  # a categorical keeps every choice


def test_once_the_box_would_span_the_space_a_restart_is_from_the_whole_space() -> None:
    restarts = next(r for r in range(10) if RESTART_WIDTH * RESTART_GROWTH**r >= 1)
    move = _stalled(restarts, [0.5, 0.5])
    assert move.note.endswith("restart from the whole space")
    assert "box" not in move.data and "restarts" not in move.data  # the widening begins again


@given(st.floats(0.0, 1.0))
def test_a_restart_box_stays_inside_the_hand_limits(x: float) -> None:
    bounds = {"x": [0.3, 0.6]}
    move = _stalled(0, [min(max(x, 0.3), 0.6), 0.5], bounds=bounds)
    low, high = move.data["box"]["x"]
    assert 0.3 <= low <= high <= 0.6
    assert move.data["bounds"] == bounds


def test_the_count_of_restarts_outlives_the_zooms_between_them() -> None:
    """A study that never improves: its restarts widen 0.2, 0.4, 0.8, then the whole space, then
    begin again, with zooms closer in between."""
    sampler = _sampler()
    state = SamplerState(data=sampler.initial_state())
    trials: list[Scored] = []
    notes = []
    for number in range(400):
        trials.append(Scored([(number * 0.618) % 1, (number * 0.382) % 1, 0.25], 1.0))
        budget = state.data["budget"]
        if number + 1 - state.level_start < budget:
            continue
        progress = LevelProgress(asked=budget, done=budget)
        move = sampler.advance(state, progress, lambda n, _: trials[:n])
        assert move is not None
        state = SamplerState(state.level + 1, state.version + 1, number + 1, move.data)
        if ": restart " in move.note:
            notes.append(move.note.split(": ")[1])
    widths = [RESTART_WIDTH * RESTART_GROWTH**r for r in range(3)]
    expected = [f"restart in a box {w:.2g} wide around the best" for w in widths] + ["restart from the whole space"]
    assert notes[:5] == [*expected, expected[0]]
