"""Studies over HTTP: create-or-get, conflicts, validation, listing, deletion."""

from __future__ import annotations

import json
from typing import Any

import pytest

from service.app import create_app

SPACE = [
    {"name": "lr", "type": "float", "low": 1e-4, "high": 1, "scale": "log"},
    {"name": "beta", "type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"},
    {"name": "layers", "type": "int", "low": 1, "high": 8},
    {"name": "optimizer", "type": "categorical", "choices": ["sgd", "adam"]},
    {"name": "momentum", "type": "float", "low": 0.0, "high": 0.99, "condition": {"param": "optimizer", "in": ["sgd"]}},
]
BODY = {
    "direction": "minimize",
    "space": SPACE,
    "sampler": {"name": "random"},
    "seed": 7,
    "metadata": {"team": "vision"},
}


def put(api: Any, name: str, body: dict[str, Any]) -> Any:
    return api.put(f"/v1/studies/{name}", json=body)


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


def trial_id(api: Any, name: str, number: int) -> str:
    """The id of trial `number` of the study as it is now: tests name trials by number for brevity."""
    response = api.get(f"/v1/studies/{name}/trials/{number}")
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["id"])


def test_put_creates_then_returns_the_same_study(api: Any) -> None:
    created = put(api, "mnist", BODY)
    assert created.status_code == 201
    study = created.get_json()
    assert study["name"] == "mnist"
    assert study["direction"] == "minimize"
    assert study["seed"] == study["effective_seed"] == 7
    assert study["metadata"] == {"team": "vision"}
    assert study["counts"] == {"running": 0, "complete": 0, "failed": 0, "pruned": 0, "expired": 0, "total": 0}
    assert study["best"] is None
    assert study["state"] == "active"
    assert study["created_at"].endswith("Z")

    again = put(api, "mnist", BODY)
    assert again.status_code == 200
    assert again.get_json() == study


def test_defaults_make_equal_intents_equal(api: Any) -> None:
    assert put(api, "s", {"space": SPACE}).status_code == 201
    sampler = {"name": "coarse_to_fine", "trials_per_level": 10}
    spelled_out = {"space": SPACE, "direction": "minimize", "sampler": sampler, "max_retries": 2}
    assert put(api, "s", spelled_out).status_code == 200


def test_a_study_stored_before_an_option_existed_is_the_same_spec(api: Any, redis_client: Any) -> None:
    """An upgrade adds a sampler option with a default: the PUT every worker sends still matches."""
    assert put(api, "s", {"space": SPACE}).status_code == 201
    key = "hone:{s}:study"
    spec = json.loads(redis_client.hget(key, "spec"))
    del spec["sampler"]["max_basins"]  # as a study stored before that option existed
    redis_client.hset(key, "spec", json.dumps(spec))
    assert put(api, "s", {"space": SPACE}).status_code == 200
    changed = put(api, "s", {"space": SPACE, "sampler": {"name": "coarse_to_fine", "max_basins": 1}})
    assert assert_error(changed, 409, "study_exists")["details"]["differences"] == ["sampler"]


@pytest.mark.parametrize(
    ("stored", "sent", "status"),
    [
        (0.15, None, 200),  # created when 0.15 was the default, asked for by leaving it out
        (0.15, 0.05, 409),  # today's default, spelled out, is not what the study has
        (0.5, None, 409),  # never a default: it was asked for, and the bare PUT differs
        (0.05, None, 200),
    ],
)
def test_a_study_stored_before_a_default_changed_is_the_same_spec(
    api: Any, settings: Any, redis_client: Any, stored: float, sent: float | None, status: int
) -> None:
    """coarse_to_fine's `exploration` default went from 0.15 to 0.05: a study created with the old
    default still matches the PUT its workers send to the upgraded service, and only that one."""
    assert put(api, "s", {"space": SPACE}).status_code == 201
    key = "hone:{s}:study"
    spec = json.loads(redis_client.hget(key, "spec"))
    spec["sampler"]["exploration"] = stored
    redis_client.hset(key, "spec", json.dumps(spec))
    upgraded = create_app({"settings": settings, "TESTING": True}).test_client()  # a process started since
    sampler = {"name": "coarse_to_fine"} if sent is None else {"name": "coarse_to_fine", "exploration": sent}
    response = put(upgraded, "s", {"space": SPACE, "sampler": sampler})
    assert response.status_code == status
    if status == 200:
        assert response.get_json()["sampler"]["exploration"] == stored
    else:
        assert assert_error(response, 409, "study_exists")["details"]["differences"] == ["sampler"]


def test_a_different_spec_is_409_naming_the_differing_fields(api: Any) -> None:
    put(api, "mnist", BODY)
    changed_space = [dict(p) for p in SPACE]
    changed_space[0]["high"] = 0.5
    other = {**BODY, "direction": "maximize", "space": changed_space}
    error = assert_error(put(api, "mnist", other), 409, "study_exists")
    assert error["details"]["differences"] == ["direction", "space[lr].high"]
    assert "direction" in error["message"] and "space[lr].high" in error["message"]


def test_study_shows_prior_percentiles_on_each_scale(api: Any) -> None:
    space = put(api, "s", BODY).get_json()["space"]
    lr, beta = space[0]["prior"], space[1]["prior"]
    assert lr["p10"] == pytest.approx(10**-3.6)
    assert lr["p50"] == pytest.approx(1e-2)
    assert beta["p50"] == pytest.approx(0.99)
    assert "prior" not in space[3]


def test_get_list_and_delete(api: Any) -> None:
    for name in ("b-study", "a.study", "c_study"):
        put(api, name, BODY)
    listed = api.get("/v1/studies").get_json()
    assert [s["name"] for s in listed["studies"]] == ["a.study", "b-study", "c_study"]
    assert listed["next_cursor"] is None

    first = api.get("/v1/studies?limit=2").get_json()
    assert [s["name"] for s in first["studies"]] == ["a.study", "b-study"]
    rest = api.get(f"/v1/studies?limit=2&cursor={first['next_cursor']}").get_json()
    assert [s["name"] for s in rest["studies"]] == ["c_study"]

    assert api.get("/v1/studies/b-study").get_json()["name"] == "b-study"
    assert api.delete("/v1/studies/b-study").status_code == 204
    assert_error(api.get("/v1/studies/b-study"), 404, "study_not_found")
    assert_error(api.delete("/v1/studies/b-study"), 404, "study_not_found")
    assert [s["name"] for s in api.get("/v1/studies").get_json()["studies"]] == ["a.study", "c_study"]


def test_delete_removes_every_key_and_a_new_study_starts_clean(api: Any, redis_client: Any) -> None:
    put(api, "s", BODY)
    trial = api.post("/v1/studies/s/trials/ask", json={}).get_json()["trials"][0]
    api.post(f"/v1/studies/s/trials/{trial['id']}/tell", json={"state": "complete", "value": 1.0})
    api.delete("/v1/studies/s")
    assert redis_client.keys("hone:{s}:*") == []
    put(api, "s", BODY)
    assert api.post("/v1/studies/s/trials/ask", json={}).get_json()["trials"][0]["number"] == 0


@pytest.mark.parametrize("name", ["", "a" * 65, "bad name", "x{y}", "a:b", "ünï", "a/b"])
def test_bad_names_are_refused(api: Any, name: str) -> None:
    response = put(api, name, BODY)
    assert response.status_code in (404, 405, 422)
    if response.status_code == 422:
        assert_error(response, 422, "invalid_name")


def test_a_64_character_name_is_fine(api: Any) -> None:
    assert put(api, "a" * 64, BODY).status_code == 201


def _with_param(**changes: Any) -> dict[str, Any]:
    return {**BODY, "space": [{"name": "p", "type": "float", "low": 0, "high": 1, **changes}]}


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (_with_param(low=2, high=1), "low_below_high"),
        (_with_param(scale="log"), "log_positive"),
        (_with_param(low=0.9, high=1.5, scale="reverse_log"), "reverse_log_below_one"),
        (_with_param(type="int", low=0.5, high=3), "integral_bounds"),
        (_with_param(step=0.3), "step_divides_range"),
        ({**BODY, "space": [{"name": "c", "type": "categorical", "choices": []}]}, "choices_not_empty"),
        ({**BODY, "space": [{"name": "c", "type": "categorical", "choices": ["a", "a"]}]}, "unique_choices"),
        ({**BODY, "space": [SPACE[0], SPACE[0]]}, "unique_names"),
        ({**BODY, "space": [{**SPACE[4], "condition": {"param": "nope", "in": ["sgd"]}}]}, "known_parent"),
        (
            {
                **BODY,
                "space": [
                    {"name": "a", "type": "categorical", "choices": ["x"], "condition": {"param": "b", "in": ["x"]}},
                    {"name": "b", "type": "categorical", "choices": ["x"], "condition": {"param": "a", "in": ["x"]}},
                ],
            },
            "no_cycles",
        ),
        (
            {**BODY, "space": [{"name": f"p{i}", "type": "float", "low": 0, "high": 1} for i in range(101)]},
            "max_params",
        ),
    ],
)
def test_bad_specs_are_422_naming_the_param_and_rule(api: Any, body: dict[str, Any], rule: str) -> None:
    error = assert_error(put(api, "s", body), 422)
    assert error["details"]["rule"] == rule
    assert api.get("/v1/studies/s").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"space": "nope"},
        {"direction": "sideways", "space": SPACE},
        {"space": SPACE, "seed": -1},
        {"space": SPACE, "seed": "7"},
        {"space": SPACE, "unknown_field": 1},
        {"space": [{"name": "p", "type": "float", "low": "0", "high": 1}]},
        {"space": [{"name": "p", "type": "float", "low": 0, "high": 10**400}]},
        {"space": [{"name": "c", "type": "categorical", "choices": [{"a": 1}]}]},
        {"space": [{"name": "c", "type": "categorical", "choices": [10**400]}]},
        {"space": SPACE, "sampler": {"name": "bayes"}},
        {"space": SPACE, "sampler": {"name": "random", "bogus": 1}},
        {"space": SPACE, "max_retries": 1000},
        {},
    ],
)
def test_malformed_study_bodies_are_422(api: Any, body: dict[str, Any]) -> None:
    assert_error(put(api, "s", body), 422)


def test_metadata_over_the_limit_is_refused(api: Any) -> None:
    assert_error(put(api, "s", {**BODY, "metadata": {"blob": "x" * 20_000}}), 422, "metadata_too_large")
