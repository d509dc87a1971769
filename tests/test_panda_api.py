"""Panda mode over HTTP: learning curves, median and ASHA pruning, enqueue, pause, notes."""

from __future__ import annotations

from typing import Any

import pytest

from service.app import create_app
from service.config import Limits, Settings

from .test_studies_api import assert_error, put, trial_id

SPACE = [
    {"name": "lr", "type": "float", "low": 1e-4, "high": 1, "scale": "log"},
    {"name": "optimizer", "type": "categorical", "choices": ["sgd", "adam"]},
    {"name": "momentum", "type": "float", "low": 0.5, "high": 0.99, "condition": {"param": "optimizer", "in": ["sgd"]}},
]


def make_study(api: Any, **body: Any) -> None:
    assert put(api, "s", {"space": SPACE, "seed": 3, **body}).status_code == 201


def ask(api: Any, count: int = 1) -> list[int]:
    return [t["number"] for t in api.post("/v1/studies/s/trials/ask", json={"count": count}).get_json()["trials"]]


def report(api: Any, number: int, step: int, value: float) -> bool:
    response = api.post(
        f"/v1/studies/s/trials/{trial_id(api, 's', number)}/report", json={"step": step, "value": value}
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["prune"]


def curves(api: Any, *numbers: int, max_points: int = 500) -> dict[int, list[list[float]]]:
    query = ",".join(map(str, numbers))
    body = api.get(f"/v1/studies/s/curves?numbers={query}&max_points={max_points}").get_json()
    return {c["number"]: c["points"] for c in body["curves"]}


def test_reports_build_a_learning_curve_and_never_prune_by_default(api: Any) -> None:
    make_study(api)
    (number,) = ask(api)
    assert [report(api, number, step, 1.0 / (step + 1)) for step in range(5)] == [False] * 5
    report(api, number, 2, 0.9)  # a step reported again replaces its value
    assert curves(api, number)[number] == [[0, 1.0], [1, 0.5], [2, 0.9], [3, 0.25], [4, 0.2]]
    assert api.get("/v1/studies/s").get_json()["pruner"] == {"name": "none"}


def test_curves_are_thinned_on_read_and_bounded_in_storage(settings: Settings, redis_client: Any) -> None:
    limits = Limits(max_curve_points=50)
    api = create_app({"settings": Settings(redis_url=settings.redis_url, limits=limits)}).test_client()
    make_study(api)
    (number,) = ask(api)
    for step in range(120):
        report(api, number, step, float(step))
    stored = curves(api, number, max_points=10_000)[number]
    assert [p[0] for p in stored] == list(range(70, 120))  # the latest 50 steps are kept
    thinned = curves(api, number, max_points=10)[number]
    assert len(thinned) <= 10 and thinned[0] == [70, 70.0] and thinned[-1] == [119, 119.0]


def test_only_running_trials_report(api: Any) -> None:
    make_study(api)
    (number,) = ask(api)
    api.post(f"/v1/studies/s/trials/{trial_id(api, 's', number)}/tell", json={"state": "complete", "value": 1.0})
    response = api.post(f"/v1/studies/s/trials/{trial_id(api, 's', number)}/report", json={"step": 1, "value": 2.0})
    assert_error(response, 409, "trial_finished")
    unknown = trial_id(api, "s", number).rsplit("-", 1)[0] + "-99"
    assert_error(
        api.post(f"/v1/studies/s/trials/{unknown}/report", json={"step": 1, "value": 2.0}), 404, "trial_not_found"
    )


@pytest.mark.parametrize(
    "body", [{"step": -1, "value": 1}, {"step": 1.5, "value": 1}, {"step": 1}, {"step": 1, "value": "x"}]
)
def test_bad_reports_are_422(api: Any, body: dict[str, Any]) -> None:
    make_study(api)
    (number,) = ask(api)
    assert_error(api.post(f"/v1/studies/s/trials/{trial_id(api, 's', number)}/report", json=body), 422)


def test_median_pruner_stops_trials_worse_than_the_median_at_the_same_step(api: Any) -> None:
    make_study(api, pruner={"name": "median", "warmup_steps": 2, "min_trials": 3})
    numbers = ask(api, 6)
    for number, value in zip(numbers[:3], (1.0, 2.0, 3.0), strict=True):
        assert report(api, number, 5, value) is False  # fewer than 3 others so far: no verdict
    assert report(api, numbers[3], 1, 100.0) is False  # still warming up
    assert report(api, numbers[3], 5, 2.5) is True  # median of 1, 2, 3 is 2
    assert report(api, numbers[4], 5, 1.5) is False  # median of 1, 2, 3, 2.5 is 2.25
    assert report(api, numbers[0], 5, 1.0) is False  # reporting again does not count the trial twice


def test_median_pruner_respects_maximize(api: Any) -> None:
    make_study(api, direction="maximize", pruner={"name": "median", "min_trials": 2})
    numbers = ask(api, 4)
    report(api, numbers[0], 1, 0.8)
    report(api, numbers[1], 1, 0.6)
    assert report(api, numbers[2], 1, 0.65) is True
    assert report(api, numbers[3], 1, 0.75) is False


def test_asha_keeps_the_best_fraction_at_each_rung(api: Any) -> None:
    make_study(api, pruner={"name": "asha", "min_resource": 1, "reduction_factor": 2})
    a, b, c, d = ask(api, 4)
    assert report(api, a, 0, 9.0) is False  # below the first rung (step 1): no verdict
    assert report(api, a, 1, 1.0) is False  # first at the rung
    assert report(api, b, 1, 2.0) is True  # 2 at the rung, keep the best 1
    assert report(api, c, 1, 0.5) is False  # best of 3
    assert report(api, d, 1, 3.0) is True  # keep 2 of 4: a and c
    assert report(api, a, 2, 0.9) is False  # first at rung 2 (step 2)
    assert report(api, c, 4, 0.4) is False  # reaches rungs 1 and 2 at once and stays in the best half


def test_a_pruned_trial_keeps_its_curve_and_last_value(api: Any) -> None:
    make_study(api)
    (number,) = ask(api)
    report(api, number, 1, 0.7)
    report(api, number, 3, 0.4)
    told = api.post(f"/v1/studies/s/trials/{trial_id(api, 's', number)}/tell", json={"state": "pruned"})
    assert told.get_json()["state"] == "pruned" and told.get_json()["value"] == 0.4
    again = api.post(f"/v1/studies/s/trials/{trial_id(api, 's', number)}/tell", json={"state": "pruned"})
    assert again.status_code == 200
    assert curves(api, number)[number] == [[1, 0.7], [3, 0.4]]


def test_enqueued_configurations_come_first_in_order(api: Any) -> None:
    make_study(api)
    wanted = [{"lr": 0.01, "optimizer": "adam"}, {"lr": 0.1, "optimizer": "sgd", "momentum": 0.9}]
    response = api.post("/v1/studies/s/enqueue", json={"configurations": wanted})
    assert [e["params"] for e in response.get_json()["enqueued"]] == wanted
    assert api.get("/v1/studies/s").get_json()["queued"] == 2
    trials = api.post("/v1/studies/s/trials/ask", json={"count": 3}).get_json()["trials"]
    assert [t["params"] for t in trials[:2]] == wanted
    assert [t["source"] for t in trials] == ["enqueued", "enqueued", "coarse_to_fine"]
    assert api.get("/v1/studies/s").get_json()["queued"] == 0


def test_a_failed_enqueued_configuration_is_offered_again(api: Any) -> None:
    make_study(api)
    api.post("/v1/studies/s/enqueue", json={"configurations": [{"lr": 0.01, "optimizer": "adam"}]})
    (number,) = ask(api)
    api.post(f"/v1/studies/s/trials/{trial_id(api, 's', number)}/tell", json={"state": "failed", "error": "node died"})
    retry = api.post("/v1/studies/s/trials/ask", json={}).get_json()["trials"][0]
    assert retry["params"] == {"lr": 0.01, "optimizer": "adam"} and retry["retry_of"] == number


@pytest.mark.parametrize(
    ("configuration", "rule"),
    [
        ({"lr": 2.0, "optimizer": "adam"}, "bounds"),
        ({"lr": 0.01, "optimizer": "sgd"}, "required"),
        ({"lr": 0.01, "optimizer": "adam", "momentum": 0.9}, "inactive"),
        ({"lr": 0.01, "optimizer": "adam", "bogus": 1}, "known_param"),
    ],
)
def test_enqueue_checks_configurations_against_the_space(api: Any, configuration: dict, rule: str) -> None:
    make_study(api)
    good = {"lr": 0.01, "optimizer": "adam"}
    error = assert_error(
        api.post("/v1/studies/s/enqueue", json={"configurations": [good, configuration]}), 422, "invalid_configuration"
    )
    assert error["details"]["index"] == 1 and error["details"]["rule"] == rule
    assert api.get("/v1/studies/s").get_json()["queued"] == 0


def test_pause_stops_asks_but_not_reports_or_tells(api: Any) -> None:
    make_study(api)
    (number,) = ask(api)
    paused = api.post("/v1/studies/s/pause").get_json()
    assert paused["state"] == "paused"
    assert_error(api.post("/v1/studies/s/trials/ask", json={}), 409, "study_paused")
    assert report(api, number, 1, 0.5) is False
    assert (
        api.post(
            f"/v1/studies/s/trials/{trial_id(api, 's', number)}/tell", json={"state": "complete", "value": 0.5}
        ).status_code
        == 200
    )
    assert api.post("/v1/studies/s/resume").get_json()["state"] == "active"
    assert ask(api) == [1]


def test_notes_on_studies_and_trials(api: Any) -> None:
    make_study(api)
    (number,) = ask(api)
    assert api.put("/v1/studies/s/note", json={"note": "lr above 0.1 diverges"}).get_json()["note"] == (
        "lr above 0.1 diverges"
    )
    noted = api.put(f"/v1/studies/s/trials/{number}/note", json={"note": "loss spiked at step 40"}).get_json()
    assert noted["note"] == "loss spiked at step 40" and noted["state"] == "running"
    told = api.post(
        f"/v1/studies/s/trials/{trial_id(api, 's', number)}/tell", json={"state": "complete", "value": 1.0}
    ).get_json()
    assert told["note"] == "loss spiked at step 40"
    assert api.get("/v1/studies/s/trials").get_json()["trials"][0]["note"] == "loss spiked at step 40"
    assert api.get("/v1/studies/s/best").get_json()["note"] == "loss spiked at step 40"
    assert api.put(f"/v1/studies/s/trials/{number}/note", json={"note": ""}).get_json()["note"] is None
    assert_error(api.put("/v1/studies/s/note", json={"note": "x" * 2001}), 422, "note_too_long")
    assert_error(api.put("/v1/studies/s/trials/42/note", json={"note": "x"}), 404, "trial_not_found")


def test_unknown_pruners_and_options_are_refused(api: Any) -> None:
    for pruner in ({"name": "hyperband"}, {"name": "median", "min_trials": 0}, {"name": "asha", "eta": 3}):
        assert_error(put(api, "s", {"space": SPACE, "pruner": pruner}), 422, "invalid_pruner")
