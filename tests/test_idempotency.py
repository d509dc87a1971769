"""Idempotency-Key: a retried request within 24 hours gets the first answer and changes nothing."""

from __future__ import annotations

from typing import Any

from .test_studies_api import BODY, assert_error, put


def post(api: Any, path: str, body: dict[str, Any], key: str) -> Any:
    return api.post(path, json=body, headers={"Idempotency-Key": key})


def test_a_retried_ask_returns_the_same_trials(api: Any) -> None:
    put(api, "s", BODY)
    first = post(api, "/v1/studies/s/trials/ask", {"count": 3}, "k1")
    again = post(api, "/v1/studies/s/trials/ask", {"count": 3}, "k1")
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert api.get("/v1/studies/s").get_json()["counts"]["total"] == 3
    other = post(api, "/v1/studies/s/trials/ask", {"count": 3}, "k2").get_json()["trials"]
    assert [t["number"] for t in other] == [3, 4, 5]


def test_a_retried_tell_returns_the_same_trial_and_counts_once(api: Any) -> None:
    put(api, "s", BODY)
    trial = api.post("/v1/studies/s/trials/ask", json={}).get_json()["trials"][0]
    path = f"/v1/studies/s/trials/{trial['id']}/tell"
    first = post(api, path, {"state": "complete", "value": 2.0}, "t1")
    again = post(api, path, {"state": "complete", "value": 2.0}, "t1")
    assert again.get_json() == first.get_json()
    assert api.get("/v1/studies/s").get_json()["counts"]["complete"] == 1


def test_a_key_reused_for_a_different_request_is_409(api: Any) -> None:
    put(api, "s", BODY)
    post(api, "/v1/studies/s/trials/ask", {"count": 1}, "k")
    assert_error(post(api, "/v1/studies/s/trials/ask", {"count": 2}, "k"), 409, "idempotency_key_reused")
    trial = api.post("/v1/studies/s/trials/ask", json={}).get_json()["trials"][0]
    assert_error(
        post(api, f"/v1/studies/s/trials/{trial['id']}/tell", {"state": "complete", "value": 1}, "k"),
        409,
        "idempotency_key_reused",
    )


def test_create_delete_and_heartbeat_replay_their_first_answer(api: Any) -> None:
    headers = {"Idempotency-Key": "create-1"}
    created = api.put("/v1/studies/s", json=BODY, headers=headers)
    replayed = api.put("/v1/studies/s", json=BODY, headers=headers)
    assert created.status_code == replayed.status_code == 201
    assert replayed.get_json() == created.get_json()

    trial = api.post("/v1/studies/s/trials/ask", json={}).get_json()["trials"][0]
    beat = post(api, f"/v1/studies/s/trials/{trial['id']}/heartbeat", {}, "hb-1")
    assert post(api, f"/v1/studies/s/trials/{trial['id']}/heartbeat", {}, "hb-1").get_json() == beat.get_json()

    first = api.delete("/v1/studies/s", headers={"Idempotency-Key": "del-1"})
    second = api.delete("/v1/studies/s", headers={"Idempotency-Key": "del-1"})
    assert first.status_code == second.status_code == 204
    assert api.delete("/v1/studies/s").status_code == 404


def test_failed_requests_are_not_remembered(api: Any) -> None:
    headers = {"Idempotency-Key": "create-2"}
    assert api.put("/v1/studies/s", json={"space": []}, headers=headers).status_code == 422
    assert api.put("/v1/studies/s", json=BODY, headers=headers).status_code == 201


def test_keys_are_checked_and_cannot_reach_other_studies(api: Any, redis_client: Any) -> None:
    assert_error(post(api, "/v1/studies/s/trials/ask", {}, "x" * 256), 422, "invalid_idempotency_key")
    put(api, "s", BODY)
    post(api, "/v1/studies/s/trials/ask", {"worker": "{other}:w"}, "{other}:key")
    assert all(key.startswith("hone:{s}:") or key == "hone:studies" for key in redis_client.keys("*"))
