"""Ask and tell over HTTP: numbering, idempotent tells, reproducibility, listing, CSV, best."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pytest

from .test_studies_api import BODY, SPACE, assert_error, put, trial_id


@pytest.fixture
def study(api: Any) -> str:
    put(api, "s", BODY)
    return "s"


def ask(api: Any, count: int = 1, **body: Any) -> list[dict[str, Any]]:
    response = api.post("/v1/studies/s/trials/ask", json={"count": count, **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["trials"]


def tell(api: Any, number: int, **body: Any) -> Any:
    return api.post(f"/v1/studies/s/trials/{trial_id(api, 's', number)}/tell", json=body)


def test_ask_returns_running_trials_with_increasing_numbers(api: Any, study: str) -> None:
    first = ask(api, 3, worker="w1")
    second = ask(api)
    assert [t["number"] for t in first + second] == [0, 1, 2, 3]
    trial = first[0]
    assert trial["state"] == "running"
    assert trial["worker"] == "w1"
    assert trial["source"] == "random"
    assert trial["level"] == 0
    assert trial["value"] is None and trial["finished_at"] is None
    assert trial["asked_at"] < trial["lease_expires_at"]
    counts = api.get("/v1/studies/s").get_json()["counts"]
    assert counts["running"] == 4 and counts["total"] == 4


def test_params_are_in_bounds_on_scale_and_conditional(api: Any, study: str) -> None:
    for trial in ask(api, 100):
        params = trial["params"]
        assert 1e-4 <= params["lr"] <= 1
        assert 0.9 <= params["beta"] <= 0.999
        assert isinstance(params["layers"], int) and 1 <= params["layers"] <= 8
        assert ("momentum" in params) == (params["optimizer"] == "sgd")
        assert next(iter(params)) == "lr"


def test_same_seed_and_number_give_the_same_configuration(api: Any) -> None:
    put(api, "s", BODY)
    first = [t["params"] for t in ask(api, 5)]
    api.delete("/v1/studies/s")
    put(api, "s", BODY)
    second = [t["params"] for t in ask(api, 2)] + [t["params"] for t in ask(api, 3)]
    assert first == second
    put(api, "other", {**BODY, "seed": 8})
    other = api.post("/v1/studies/other/trials/ask", json={"count": 5}).get_json()["trials"]
    assert [t["params"] for t in other] != first


def test_a_batch_never_holds_two_equal_configurations(api: Any) -> None:
    tiny = {"space": [{"name": "c", "type": "categorical", "choices": ["a", "b", "c", "d", "e", "f"]}], "seed": 1}
    put(api, "s", tiny)
    params = [t["params"]["c"] for t in ask(api, 6)]
    assert sorted(params) == ["a", "b", "c", "d", "e", "f"]


def test_tell_complete_then_best_and_counts(api: Any, study: str) -> None:
    numbers = [t["number"] for t in ask(api, 3)]
    for number, value in zip(numbers, (0.5, 0.25, 0.75), strict=False):
        told = tell(api, number, state="complete", value=value)
        assert told.status_code == 200
        assert told.get_json()["state"] == "complete"
        assert told.get_json()["value"] == value
        assert told.get_json()["finished_at"] is not None
    best = api.get("/v1/studies/s/best").get_json()
    assert best["number"] == numbers[1] and best["value"] == 0.25
    study_body = api.get("/v1/studies/s").get_json()
    assert study_body["best"]["number"] == numbers[1]
    assert study_body["counts"]["complete"] == 3 and study_body["counts"]["running"] == 0


def test_maximize_picks_the_largest_value(api: Any) -> None:
    put(api, "s", {**BODY, "direction": "maximize"})
    numbers = [t["number"] for t in ask(api, 2)]
    tell(api, numbers[0], state="complete", value=1.0)
    tell(api, numbers[1], state="complete", value=2.0)
    assert api.get("/v1/studies/s/best").get_json()["number"] == numbers[1]


def test_the_same_tell_twice_is_harmless_and_a_different_one_is_409(api: Any, study: str) -> None:
    (trial,) = ask(api)
    first = tell(api, trial["number"], state="complete", value=0.5)
    again = tell(api, trial["number"], state="complete", value=0.5)
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    error = assert_error(tell(api, trial["number"], state="complete", value=0.6), 409, "trial_finished")
    assert "already complete" in error["message"]
    assert_error(tell(api, trial["number"], state="failed", error="oom"), 409, "trial_finished")
    assert api.get("/v1/studies/s").get_json()["counts"]["complete"] == 1


def test_failed_and_pruned_tells(api: Any, study: str) -> None:
    a, b, c = ask(api, 3)
    failed = tell(api, a["number"], state="failed", error="CUDA out of memory").get_json()
    assert failed["state"] == "failed" and failed["error"] == "CUDA out of memory"
    assert tell(api, b["number"], state="pruned").get_json()["state"] == "pruned"
    pruned = tell(api, c["number"], state="pruned", value=3.5).get_json()
    assert pruned["value"] == 3.5
    counts = api.get("/v1/studies/s").get_json()["counts"]
    assert counts == {"running": 0, "complete": 0, "failed": 1, "pruned": 2, "expired": 0, "total": 3}
    assert_error(api.get("/v1/studies/s/best"), 404, "no_complete_trial")


@pytest.mark.parametrize(
    "body",
    [
        {"state": "complete"},
        {"state": "complete", "value": None},
        {"state": "complete", "value": "0.5"},
        {"state": "running"},
        {"state": "expired"},
        {"state": "done", "value": 1},
        {"value": 1},
        {"state": "complete", "value": 1, "extra": 1},
        {"state": "complete", "value": 1e400},
    ],
)
def test_bad_tells_are_422(api: Any, study: str, body: dict[str, Any]) -> None:
    (trial,) = ask(api)
    assert_error(tell(api, trial["number"], **body), 422)
    assert api.get(f"/v1/studies/s/trials/{trial['number']}").get_json()["state"] == "running"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(api: Any, study: str, literal: str) -> None:
    (trial,) = ask(api)
    response = api.post(
        f"/v1/studies/s/trials/{trial['id']}/tell",
        data=f'{{"state": "complete", "value": {literal}}}',
        content_type="application/json",
    )
    assert_error(response, 422)


def test_unknown_trials_and_studies_are_404(api: Any, study: str) -> None:
    (trial,) = ask(api)
    unknown = trial["id"].rsplit("-", 1)[0] + "-99"
    assert_error(
        api.post(f"/v1/studies/s/trials/{unknown}/tell", json={"state": "complete", "value": 1}), 404, "trial_not_found"
    )
    assert_error(api.get("/v1/studies/s/trials/99"), 404, "trial_not_found")
    assert_error(api.post("/v1/studies/nope/trials/ask", json={}), 404, "study_not_found")
    assert_error(api.post(f"/v1/studies/nope/trials/{trial['id']}/tell", json={"state": "complete", "value": 1}), 404)


@pytest.mark.parametrize("count", [0, 101, -1, "3", 2.5])
def test_ask_count_is_checked(api: Any, study: str, count: Any) -> None:
    assert_error(api.post("/v1/studies/s/trials/ask", json={"count": count}), 422)


def test_trial_listing_filters_orders_and_pages(api: Any, study: str) -> None:
    trials = ask(api, 10)
    values = [3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0, 6.0]
    for trial, value in zip(trials, values, strict=False):
        tell(api, trial["number"], state="complete", value=value)
    tell(api, trials[8]["number"], state="failed", error="x")

    everything = api.get("/v1/studies/s/trials").get_json()
    assert [t["number"] for t in everything["trials"]] == list(range(10))
    running = api.get("/v1/studies/s/trials?state=running").get_json()["trials"]
    assert [t["number"] for t in running] == [9]
    several = api.get("/v1/studies/s/trials?state=running,failed").get_json()["trials"]
    assert [t["number"] for t in several] == [8, 9]
    newest = api.get("/v1/studies/s/trials?order=-number&limit=3").get_json()
    assert [t["number"] for t in newest["trials"]] == [9, 8, 7]

    assert [t["value"] for t in all_pages(api, "order=value&limit=3")] == sorted(values)
    assert [t["number"] for t in all_pages(api, "limit=4")] == list(range(10))


def all_pages(api: Any, query: str) -> list[dict[str, Any]]:
    """Every trial of a listing, following next_cursor page by page."""
    trials, cursor = [], None
    while True:
        page = api.get(f"/v1/studies/s/trials?{query}" + (f"&cursor={cursor}" if cursor else "")).get_json()
        trials += page["trials"]
        cursor = page["next_cursor"]
        if cursor is None:
            return trials


def test_value_order_pages_through_ties(api: Any, study: str) -> None:
    trials = ask(api, 12)
    for trial in trials:
        tell(api, trial["number"], state="complete", value=1.0)
    assert sorted(t["number"] for t in all_pages(api, "order=value&limit=5")) == list(range(12))


@pytest.mark.parametrize(
    "query",
    [
        "state=bogus",
        "order=random",
        "cursor=abc",
        "limit=0",
        "limit=5000",
        "format=xml",
        "format=csv&order=value&state=failed",
    ],
)
def test_bad_listing_queries_are_422(api: Any, study: str, query: str) -> None:
    assert_error(api.get(f"/v1/studies/s/trials?{query}"), 422)


def test_csv_has_one_column_per_param(api: Any, study: str) -> None:
    a, b = ask(api, 2)
    tell(api, a["number"], state="complete", value=0.125)
    response = api.get("/v1/studies/s/trials?format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(r["number"]) for r in rows] == [a["number"], b["number"]]
    assert set(p["name"] for p in SPACE) <= set(rows[0])
    assert float(rows[0]["value"]) == 0.125 and rows[0]["state"] == "complete"
    assert math.isclose(float(rows[0]["lr"]), a["params"]["lr"])
    assert rows[1]["value"] == ""


def test_trial_json_round_trips_through_the_wire(api: Any, study: str) -> None:
    (trial,) = ask(api)
    fetched = api.get(f"/v1/studies/s/trials/{trial['number']}").get_json()
    assert fetched == trial
    assert json.loads(json.dumps(fetched)) == fetched
