"""GET /v1/studies/{name}/importance: the param that decides the objective ranks first, categoricals and
conditional params included; too few complete trials is a clear 409; answers are cached per count of
complete trials (a busy big study's within a small share); big studies are sampled and say so."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from service.usecases import importance

from .test_studies_api import assert_error, put

SPACE = [
    {"name": "lr", "type": "float", "low": 1e-5, "high": 1, "scale": "log"},
    {"name": "layers", "type": "int", "low": 1, "high": 8},
    {"name": "optimizer", "type": "categorical", "choices": ["sgd", "adam", "rmsprop"]},
    {
        "name": "momentum",
        "type": "float",
        "low": 0.5,
        "high": 0.99,
        "condition": {"param": "optimizer", "in": ["sgd"]},
    },
    {"name": "noise", "type": "float", "low": 0, "high": 1},
]
RANDOM = {"name": "random"}


def by_lr(params: dict[str, Any]) -> float:
    return (math.log10(params["lr"]) + 3) ** 2


def by_optimizer(params: dict[str, Any]) -> float:
    return {"sgd": 0.0, "adam": 5.0, "rmsprop": 10.0}[params["optimizer"]] + 0.01 * params["layers"]


def run(api: Any, name: str, trials: int, objective: Callable[[dict[str, Any]], float], seed: int = 3) -> None:
    """Ask every trial at once, then tell them in random order: all in flight together, as with many workers."""
    asked = api.post(f"/v1/studies/{name}/trials/ask", json={"count": trials}).get_json()["trials"]
    random.Random(seed).shuffle(asked)
    for trial in asked:
        body = {"state": "complete", "value": objective(trial["params"])}
        assert api.post(f"/v1/studies/{name}/trials/{trial['id']}/tell", json=body).status_code == 200


def study(api: Any, name: str = "s") -> str:
    assert put(api, name, {"space": SPACE, "sampler": RANDOM, "seed": 9}).status_code == 201
    return name


@pytest.mark.parametrize(("objective", "decider"), [(by_lr, "lr"), (by_optimizer, "optimizer")])
def test_the_param_that_decides_the_objective_ranks_first(
    api: Any, objective: Callable[[dict[str, Any]], float], decider: str
) -> None:
    run(api, study(api), 80, objective)
    response = api.get("/v1/studies/s/importance")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    ranked = body["params"]
    assert ranked[0]["param"] == decider
    assert {p["param"] for p in ranked} == {p["name"] for p in SPACE}
    assert ranked[0]["importance"] > 0.5
    assert ranked[0]["importance"] > 5 * ranked[1]["importance"]
    assert sum(p["importance"] for p in ranked) == pytest.approx(1)
    assert [p["importance"] for p in ranked] == sorted((p["importance"] for p in ranked), reverse=True)
    assert (body["trials"], body["complete"], body["sampled"]) == (80, 80, False)
    assert "random forest" in body["method"]


def test_too_few_complete_trials_is_a_409_that_says_how_many_are_needed(api: Any) -> None:
    run(api, study(api), importance.MIN_TRIALS - 1, by_lr)
    api.post("/v1/studies/s/trials/ask", json={"count": 5})  # running trials do not count
    error = assert_error(api.get("/v1/studies/s/importance"), 409, "too_few_trials")
    assert error["details"] == {"complete": importance.MIN_TRIALS - 1, "needed": importance.MIN_TRIALS}


def test_an_unknown_study_is_a_404(api: Any) -> None:
    assert_error(api.get("/v1/studies/nope/importance"), 404, "study_not_found")


def test_the_answer_is_cached_under_the_study_until_another_trial_completes(api: Any, redis_client: Any) -> None:
    run(api, study(api), 20, by_lr)
    first = api.get("/v1/studies/s/importance").get_json()
    cached = [k for k in redis_client.keys("hone:{s}:*") if k.endswith(":importance")]
    assert len(cached) == 1
    # A cached answer is served as stored: overwrite it and the next call returns what was written.
    planted = {**first, "method": "planted"}
    redis_client.set(cached[0], json.dumps(planted))
    assert api.get("/v1/studies/s/importance").get_json()["method"] == "planted"
    run(api, "s", 1, by_lr, seed=4)
    fresh = api.get("/v1/studies/s/importance").get_json()
    assert fresh["complete"] == 21 and fresh["method"] == importance.METHOD
    # Deleting the study takes its cache with it.
    assert api.delete("/v1/studies/s").status_code == 204
    assert not [k for k in redis_client.keys("hone:{s}:*") if k.endswith(":importance")]


def test_a_big_study_reuses_an_answer_until_it_has_a_share_more_trials(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importance, "STALE_SHARE", 0.1)
    run(api, study(api), 40, by_lr)
    assert api.get("/v1/studies/s/importance").get_json()["complete"] == 40
    run(api, "s", 3, by_lr, seed=5)  # 43: within 10% of 40
    assert api.get("/v1/studies/s/importance").get_json()["complete"] == 40
    run(api, "s", 2, by_lr, seed=6)  # 45: past it
    assert api.get("/v1/studies/s/importance").get_json()["complete"] == 45


def test_a_study_bigger_than_the_sample_is_sampled_and_says_so(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importance, "MAX_TRIALS", 30)
    run(api, study(api), 45, by_lr)
    body = api.get("/v1/studies/s/importance").get_json()
    assert (body["trials"], body["complete"], body["sampled"]) == (30, 45, True)
    assert body["params"][0]["param"] == "lr"


def test_the_operation_is_in_the_openapi_document_with_its_errors(api: Any) -> None:
    spec = api.get("/openapi.json").get_json()
    operation = spec["paths"]["/v1/studies/{name}/importance"]["get"]
    assert operation["operationId"] == "getImportance"
    assert operation["summary"]
    assert "too_few_trials" in operation["description"]
    # Each error status in the one error shape: test_openapi checks that for every operation.
    assert {"200", "404", "409"} <= set(operation["responses"])
    schema = spec["components"]["schemas"]["Importance"]
    assert set(schema["required"]) == {"params", "trials", "complete", "sampled", "method"}
