"""Every registered sampler keeps the same promises: in bounds, on the right scale, reproducible,
conditional params right. Runs over the registry, so a new sampler is covered when it registers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from service.domain.space import SearchSpace
from service.domain.study import Direction, StudySpec
from service.samplers import (
    SAMPLERS,
    Draw,
    LevelProgress,
    Ranking,
    Sampler,
    SamplerState,
    Scored,
    make_sampler,
    normalize_sampler,
)

SPACE = SearchSpace.from_list(
    [
        {"name": "lr", "type": "float", "low": 1e-5, "high": 1, "scale": "log"},
        {"name": "beta", "type": "float", "low": 0.9, "high": 0.9999, "scale": "reverse_log"},
        {"name": "units", "type": "int", "low": 16, "high": 512, "scale": "log"},
        {"name": "dropout", "type": "float", "low": 0.0, "high": 0.5},
        {"name": "subsample", "type": "float", "low": 0.01, "high": 0.99, "scale": "logit"},
        {"name": "optimizer", "type": "categorical", "choices": ["sgd", "adam"]},
        {
            "name": "momentum",
            "type": "float",
            "low": 0.0,
            "high": 0.99,
            "condition": {"param": "optimizer", "in": ["sgd"]},
        },
        {
            "name": "beta1",
            "type": "float",
            "low": 0.8,
            "high": 0.99,
            "condition": {"param": "optimizer", "in": ["adam"]},
        },
    ]
)
DRAWS = 2000
# 23 grid points per param: 22 steps put no inner point on a decade boundary of lr or 1 - beta, so
# the decade check below sees 4 or 5 points per decade; shuffled, so the seed decides the order.
OPTIONS: dict[str, dict[str, Any]] = {"grid": {"n": 23, "shuffle": True}}


def sampler_for(name: str, seed: int = 11) -> Sampler:
    sampler = normalize_sampler({"name": name, **OPTIONS.get(name, {})})
    return make_sampler(StudySpec(direction=Direction.MINIMIZE, space=SPACE, sampler=sampler), seed)


def draw_many(sampler: Sampler, n: int = DRAWS) -> list[dict[str, Any]]:
    state = SamplerState(data=sampler.initial_state())
    limit = sampler.size()
    count = n if limit is None else min(n, limit)
    return [sampler.suggest(Draw(number=i, index=i), state) for i in range(count)]


@pytest.fixture(params=sorted(SAMPLERS))
def name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_every_value_is_inside_its_param(name: str) -> None:
    for params in draw_many(sampler_for(name)):
        assert SPACE.normalize(params) == params


def test_conditional_params_appear_exactly_when_active(name: str) -> None:
    for params in draw_many(sampler_for(name)):
        assert ("momentum" in params) == (params["optimizer"] == "sgd")
        assert ("beta1" in params) == (params["optimizer"] == "adam")


def test_the_same_seed_and_draw_give_the_same_params(name: str) -> None:
    assert draw_many(sampler_for(name, seed=5), 50) == draw_many(sampler_for(name, seed=5), 50)
    assert draw_many(sampler_for(name, seed=5), 50) != draw_many(sampler_for(name, seed=6), 50)


def _decade_fractions(values: list[float], edges: list[float]) -> np.ndarray:
    counts, _ = np.histogram(values, bins=edges)
    return counts / len(values)


def test_log_and_reverse_log_params_spread_evenly_over_decades(name: str) -> None:
    drawn = draw_many(sampler_for(name))
    lr = _decade_fractions([p["lr"] for p in drawn], [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1])
    one_minus_beta = _decade_fractions([1 - p["beta"] for p in drawn], [1e-4, 1e-3, 1e-2, 1e-1])
    # Uniform on the linear scale would put ~90% of lr draws in the top decade.
    assert np.all(np.abs(lr - 0.2) < 0.05), lr
    assert np.all(np.abs(one_minus_beta - 1 / 3) < 0.06), one_minus_beta


def test_logit_params_spread_evenly_over_log_odds(name: str) -> None:
    # Quartiles of log-odds over [0.01, 0.99]: uniform on the linear scale would put ~83% in the middle two.
    log_odds = [np.log(p["subsample"] / (1 - p["subsample"])) for p in draw_many(sampler_for(name))]
    fractions = _decade_fractions(log_odds, list(np.linspace(np.log(1 / 99), np.log(99), 5)))
    assert np.all(np.abs(fractions - 0.25) < 0.05), fractions


def _objective(params: dict[str, Any]) -> float:
    """A smooth bowl with its minimum inside the space, on the params' own scales."""
    return (
        (np.log10(params["lr"]) + 3) ** 2
        + (np.log10(1 - params["beta"]) + 2) ** 2
        + (params["dropout"] - 0.1) ** 2
        + (0.0 if params["optimizer"] == "sgd" else 1.0)
    )


def run_levels(sampler: Sampler, trials: int) -> list[tuple[SamplerState, dict[str, Any]]]:
    """Sequential ask/tell through the level protocol, in memory: (state, params) of each trial."""
    state = SamplerState(data=sampler.initial_state())
    asked: dict[int, int] = {}
    finished: list[Scored] = []
    out = []

    def top(k: int, ranking: Ranking) -> list[Scored]:
        assert ranking is Ranking.TOLD  # nothing reports at a pruner's rung here
        return sorted(finished, key=lambda scored: scored.value)[:k]

    for number in range(trials):
        asked[state.level] = asked.get(state.level, 0) + 1
        done = sum(1 for earlier, _ in out if earlier.level == state.level)
        move = sampler.advance(state, LevelProgress(asked[state.level], done), top)
        params = sampler.suggest(Draw(number, number), state)
        out.append((state, params))
        finished.append(Scored(SPACE.encode(params), _objective(params)))
        if move is not None:
            state = SamplerState(state.level + 1, state.version + 1, number + 1, move.data)
    return out


def test_every_level_keeps_the_promises(name: str) -> None:
    sampler = sampler_for(name)
    trials = min(300, sampler.size() or 300)
    for _, params in run_levels(sampler, trials):
        assert SPACE.normalize(params) == params
        assert ("momentum" in params) == (params["optimizer"] == "sgd")
        assert ("beta1" in params) == (params["optimizer"] == "adam")
