"""Narrow, widen or pin a param by hand (POST /regions): a new level, honoured by every later draw."""

from __future__ import annotations

from typing import Any

import pytest

from .test_studies_api import assert_error, put

SPACE = [
    {"name": "lr", "type": "float", "low": 1e-5, "high": 1, "scale": "log"},
    {"name": "beta", "type": "float", "low": 0.9, "high": 0.9999, "scale": "reverse_log"},
    {"name": "optimizer", "type": "categorical", "choices": ["sgd", "adam", "rmsprop"]},
]
C2F = {"name": "coarse_to_fine", "initial_trials": 6, "trials_per_level": 6, "exploration": 0.5}


@pytest.fixture
def study(api: Any) -> str:
    assert put(api, "s", {"space": SPACE, "sampler": C2F, "seed": 4}).status_code == 201
    return "s"


def edit(api: Any, **body: Any) -> Any:
    return api.post("/v1/studies/s/regions", json={"note": "lr above 1e-2 diverges on this data", **body})


def run(api: Any, trials: int) -> list[dict[str, Any]]:
    """Ask and tell one at a time, so levels advance as they would with one worker."""
    asked = []
    for _ in range(trials):
        trial = api.post("/v1/studies/s/trials/ask", json={}).get_json()["trials"][0]
        value = abs(trial["params"]["lr"] - 1e-3) + (1 - trial["params"]["beta"])
        api.post(f"/v1/studies/s/trials/{trial['id']}/tell", json={"state": "complete", "value": value})
        asked.append(trial)
    return asked


def test_narrowing_a_param_is_a_new_level_and_bounds_every_later_draw(api: Any, study: str) -> None:
    run(api, 3)
    level = edit(api, param="lr", low=1e-4, high=1e-2, by="alice")
    assert level.status_code == 200, level.get_json()
    body = level.get_json()
    assert body["level"] == 1 and body["by"] == "alice" and body["note"].startswith("lr above")
    assert body["box"]["lr"] == {"low": pytest.approx(1e-4), "high": pytest.approx(1e-2)}
    # Exploration (half of a zoomed level here) and later zooms included: every draw stays inside.
    later = run(api, 60)
    assert all(1e-4 <= t["params"]["lr"] <= 1e-2 for t in later)
    assert {t["level"] for t in later} != {1}  # the sampler went on zooming from the hand-set region
    regions = api.get("/v1/studies/s/regions").get_json()
    assert regions["levels"][1]["by"] == "alice"


def test_pinning_a_numeric_and_a_categorical_param(api: Any, study: str) -> None:
    assert edit(api, param="beta", value=0.99).status_code == 200
    assert edit(api, param="optimizer", choices=["adam", "rmsprop"]).status_code == 200
    later = run(api, 40)
    assert all(t["params"]["beta"] == pytest.approx(0.99) for t in later)
    assert {t["params"]["optimizer"] for t in later} <= {"adam", "rmsprop"}
    # Later zooms keep what the best trials chose, never a choice outside the hand limit.
    current = api.get("/v1/studies/s/regions").get_json()["levels"][-1]
    assert current["box"]["optimizer"]["choices"] and set(current["box"]["optimizer"]["choices"]) <= {"adam", "rmsprop"}


def test_widening_after_narrowing(api: Any, study: str) -> None:
    edit(api, param="lr", low=1e-3, high=1e-2)
    assert edit(api, param="lr", low=1e-5, high=1).get_json()["box"]["lr"]["high"] == pytest.approx(1)
    assert any(t["params"]["lr"] < 1e-3 for t in run(api, 30))


@pytest.mark.parametrize(
    "body",
    [
        {"param": "nope", "low": 0.1, "high": 0.2},
        {"param": "lr", "low": 0.1},
        {"param": "lr", "low": 0.1, "high": 0.01},
        {"param": "lr", "low": 1e-7, "high": 0.1},
        {"param": "lr", "choices": ["a"]},
        {"param": "optimizer", "low": 0, "high": 1},
        {"param": "optimizer", "choices": ["sgd", "lbfgs"]},
        {"param": "optimizer", "choices": []},
    ],
)
def test_bad_edits_are_422_and_change_nothing(api: Any, study: str, body: dict[str, Any]) -> None:
    assert_error(edit(api, **body), 422, "invalid_region")
    assert api.get("/v1/studies/s/regions").get_json()["current"] == 0


def test_samplers_without_regions_refuse_edits(api: Any) -> None:
    put(api, "s", {"space": SPACE, "sampler": {"name": "random"}})
    assert_error(edit(api, param="lr", low=1e-4, high=1e-2), 409, "no_regions")
