"""The grid sampler over HTTP: each point once, failed points again, exhaustion, options."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import pytest

from .test_studies_api import assert_error, put

SPACE = [
    {"name": "lr", "type": "float", "low": 1e-4, "high": 1, "scale": "log"},
    {"name": "optimizer", "type": "categorical", "choices": ["sgd", "adam"]},
    {"name": "momentum", "type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log",
     "condition": {"param": "optimizer", "in": ["sgd"]}},
]  # fmt: skip


def ask(api: Any, study: str, count: int = 1) -> list[dict[str, Any]]:
    response = api.post(f"/v1/studies/{study}/trials/ask", json={"count": count})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["trials"]


def key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def test_every_point_once_with_conditional_params_only_where_active(api: Any) -> None:
    assert put(api, "g", {"space": SPACE, "sampler": {"name": "grid", "n": 5}}).status_code == 201
    trials = ask(api, "g", 30)
    # lr (5) x [sgd x momentum (5) + adam] = 30, not 5 x 2 x 5 = 50 with duplicated adam points.
    assert len({key(t["params"]) for t in trials}) == 30
    assert all(("momentum" in t["params"]) == (t["params"]["optimizer"] == "sgd") for t in trials)
    lrs = sorted({t["params"]["lr"] for t in trials})
    assert lrs == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1])
    betas = sorted({t["params"]["momentum"] for t in trials if "momentum" in t["params"]})
    assert [1 - b for b in betas] == pytest.approx([0.1, 10**-1.5, 0.01, 10**-2.5, 0.001])
    assert api.get("/v1/studies/g").get_json()["points"] == {"total": 30, "remaining": 0}
    error = assert_error(api.post("/v1/studies/g/trials/ask", json={}), 409, "search_exhausted")
    assert error["details"] == {"running": 30}


def test_explicit_values_and_a_seeded_shuffle(api: Any) -> None:
    sampler = {"name": "grid", "values": {"lr": [0.1, 0.01, 0.1]}, "shuffle": True}
    put(api, "a", {"space": SPACE, "sampler": sampler, "seed": 1})
    put(api, "b", {"space": SPACE, "sampler": {**sampler, "shuffle": False}, "seed": 1})
    shuffled, ordered = ask(api, "a", 100), ask(api, "b", 100)
    assert len(shuffled) == len(ordered) == 2 * 6
    assert {t["params"]["lr"] for t in shuffled} == {0.1, 0.01}
    assert sorted(map(key, (t["params"] for t in shuffled))) == sorted(map(key, (t["params"] for t in ordered)))
    assert [t["params"] for t in shuffled] != [t["params"] for t in ordered]


def test_a_failed_point_comes_back_and_a_completed_one_never(api: Any) -> None:
    put(api, "g", {"space": [SPACE[0]], "sampler": {"name": "grid", "n": 3}, "max_retries": 1})
    first, second, _ = ask(api, "g", 3)
    api.post(f"/v1/studies/g/trials/{first['id']}/tell", json={"state": "failed", "error": "oom"})
    api.post(f"/v1/studies/g/trials/{second['id']}/tell", json={"state": "complete", "value": 1.0})
    (retry,) = ask(api, "g", 3)
    assert retry["params"] == first["params"] and retry["retry_of"] == first["number"] and retry["attempt"] == 1
    api.post(f"/v1/studies/g/trials/{retry['id']}/tell", json={"state": "failed", "error": "oom"})
    # max_retries is 1: the point was tried twice and is given up.
    assert_error(api.post("/v1/studies/g/trials/ask", json={}), 409, "search_exhausted")


WIDE = [{"name": f"p{i}", "type": "float", "low": 0, "high": 1} for i in range(6)]


@pytest.mark.parametrize(
    ("space", "sampler"),
    [
        (SPACE, {"name": "grid", "values": {"nope": [1]}}),
        (SPACE, {"name": "grid", "values": {"lr": [5.0]}}),
        (SPACE, {"name": "grid", "values": {"optimizer": ["rmsprop"]}}),
        (SPACE, {"name": "grid", "values": {"lr": []}}),
        (SPACE, {"name": "grid", "n": 0}),
        (SPACE, {"name": "grid", "shuffle": "yes"}),
        (WIDE, {"name": "grid", "n": 1000}),  # 10**18 points: past what Lua counts exactly
    ],
)
def test_bad_grid_options_are_422(api: Any, space: list[dict[str, Any]], sampler: dict[str, Any]) -> None:
    assert_error(put(api, "g", {"space": space, "sampler": sampler}), 422)
    assert api.get("/v1/studies/g").status_code == 404


def test_the_grid_is_never_materialised(api: Any) -> None:
    space = [{"name": f"p{i}", "type": "int", "low": 0, "high": 999} for i in range(5)]
    put(api, "big", {"space": space, "sampler": {"name": "grid", "n": 1000, "shuffle": True}, "seed": 3})
    trials = ask(api, "big", 100)
    assert len({key(t["params"]) for t in trials}) == 100
    points = api.get("/v1/studies/big").get_json()["points"]
    assert points == {"total": 1000**5, "remaining": 1000**5 - 100}
    assert math.prod(1000 for _ in range(5)) == points["total"]


def test_every_combination_of_values_appears(api: Any) -> None:
    space = [
        {"name": "a", "type": "int", "low": 1, "high": 3},
        {"name": "b", "type": "categorical", "choices": ["x", "y"]},
    ]
    put(api, "g", {"space": space, "sampler": {"name": "grid", "shuffle": True}})
    seen = {(t["params"]["a"], t["params"]["b"]) for t in ask(api, "g", 10)}
    assert seen == set(itertools.product([1, 2, 3], ["x", "y"]))
