"""The grid sampler without Redis: index -> point is a bijection onto distinct configurations,
and shuffle is a permutation of the indices, for grids of awkward sizes and nested conditions."""

from __future__ import annotations

import json

import pytest

from service.domain.space import SearchSpace
from service.domain.study import Direction
from service.samplers import Draw, SamplerState
from service.samplers.grid import GridSampler

NESTED = SearchSpace.from_list(
    [
        {"name": "model", "type": "categorical", "choices": ["mlp", "cnn", "tree"]},
        {"name": "layers", "type": "int", "low": 1, "high": 4, "condition": {"param": "model", "in": ["mlp", "cnn"]}},
        {
            "name": "opt",
            "type": "categorical",
            "choices": ["sgd", "adam"],
            "condition": {"param": "model", "in": ["mlp"]},
        },
        {"name": "momentum", "type": "float", "low": 0.5, "high": 0.99, "condition": {"param": "opt", "in": ["sgd"]}},
        {"name": "depth", "type": "int", "low": 2, "high": 12, "condition": {"param": "model", "in": ["tree"]}},
        {"name": "lr", "type": "float", "low": 1e-4, "high": 1e-1, "scale": "log"},
    ]
)


def grid(n: int, shuffle: bool = False, seed: int = 0) -> GridSampler:
    return GridSampler(NESTED, {"n": n, "values": {}, "shuffle": shuffle}, seed, Direction.MINIMIZE)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_every_index_decodes_to_a_distinct_valid_configuration(n: int) -> None:
    sampler = grid(n)
    # model: mlp (layers x (sgd x momentum + adam)) + cnn (layers) + tree (depth), times lr.
    layers, depth = min(n, 4), n
    assert sampler.size() == (layers * (n + 1) + layers + depth) * n
    points = [sampler.point(i) for i in range(sampler.size())]
    assert all(NESTED.normalize(p) == p for p in points)
    assert len({json.dumps(p, sort_keys=True) for p in points}) == sampler.size()


def visit(sampler: GridSampler) -> list[str]:
    """The points in the order the sampler hands them out."""
    state = SamplerState(data=sampler.initial_state())
    return [json.dumps(sampler.suggest(Draw(i, i), state), sort_keys=True) for i in range(sampler.size())]


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_shuffle_visits_every_point_once_in_a_seeded_order(n: int) -> None:
    ordered, shuffled = visit(grid(n)), visit(grid(n, shuffle=True, seed=9))
    assert sorted(shuffled) == sorted(ordered)
    assert shuffled == visit(grid(n, shuffle=True, seed=9))
    assert shuffled != ordered and shuffled != visit(grid(n, shuffle=True, seed=10))
