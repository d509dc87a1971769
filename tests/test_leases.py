"""Trials whose worker died: leases, heartbeats, expiry, re-offered configurations, resume."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .test_studies_api import assert_error, put

SPACE = [{"name": "x", "type": "float", "low": 0, "high": 1}]
LEASE = 1.0  # seconds: the shortest lease a study may set


@pytest.fixture
def study(api: Any) -> str:
    put(api, "s", {"space": SPACE, "lease_seconds": LEASE, "max_retries": 1, "seed": 1})
    return "s"


def ask(api: Any, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/studies/s/trials/ask", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["trials"][0]


def outlive_lease() -> None:
    time.sleep(LEASE + 0.2)


def counts(api: Any) -> dict[str, int]:
    return api.get("/v1/studies/s").get_json()["counts"]


def test_an_unrenewed_trial_expires_and_its_configuration_is_offered_again(api: Any, study: str) -> None:
    first = ask(api, worker="doomed")
    outlive_lease()
    assert api.get("/v1/studies/s/trials/0").get_json()["state"] == "expired"
    assert counts(api)["expired"] == 1 and counts(api)["running"] == 0

    again = ask(api, worker="survivor")
    assert again["params"] == first["params"]
    assert again["retry_of"] == first["number"] and again["attempt"] == 1
    assert api.get("/v1/studies/s/trials?state=expired").get_json()["trials"][0]["number"] == first["number"]

    outlive_lease()  # the retry expires too; max_retries is 1, so the configuration is given up
    fresh = ask(api)
    assert fresh["retry_of"] is None and fresh["params"] != first["params"]
    assert counts(api) == {"running": 1, "complete": 0, "failed": 0, "pruned": 0, "expired": 2, "total": 3}


def test_heartbeats_keep_a_trial_alive(api: Any, study: str) -> None:
    trial = ask(api)
    for _ in range(3):
        time.sleep(LEASE / 2)
        beat = api.post(f"/v1/studies/s/trials/{trial['id']}/heartbeat", json={})
        assert beat.status_code == 200
        assert beat.get_json()["lease_expires_at"] > trial["lease_expires_at"]
    assert (
        api.post(f"/v1/studies/s/trials/{trial['id']}/tell", json={"state": "complete", "value": 1}).status_code == 200
    )
    assert_error(api.post(f"/v1/studies/s/trials/{trial['id']}/heartbeat", json={}), 409, "trial_finished")


def test_a_heartbeat_after_expiry_is_409(api: Any, study: str) -> None:
    trial = ask(api)
    outlive_lease()
    assert_error(api.post(f"/v1/studies/s/trials/{trial['id']}/heartbeat", json={}), 409, "trial_expired")


def test_a_late_tell_is_kept_while_the_configuration_waits_for_a_worker(api: Any, study: str) -> None:
    trial = ask(api)
    outlive_lease()
    api.get("/v1/studies/s")  # any read notices the expiry
    told = api.post(f"/v1/studies/s/trials/{trial['id']}/tell", json={"state": "complete", "value": 0.5})
    assert told.status_code == 200 and told.get_json()["state"] == "complete"
    assert counts(api)["expired"] == 0 and counts(api)["complete"] == 1
    assert ask(api)["retry_of"] is None  # the configuration was not offered again


def test_a_late_tell_after_the_configuration_went_elsewhere_is_409(api: Any, study: str) -> None:
    trial = ask(api)
    outlive_lease()
    retry = ask(api)
    assert retry["retry_of"] == trial["number"]
    late = api.post(f"/v1/studies/s/trials/{trial['id']}/tell", json={"state": "complete", "value": 0.5})
    error = assert_error(late, 409, "trial_expired")
    assert "handed to another trial" in error["message"]
    assert counts(api)["complete"] == 0


def test_a_lease_can_be_set_per_ask(api: Any, study: str) -> None:
    long = ask(api, lease_seconds=3600)
    outlive_lease()
    assert api.get(f"/v1/studies/s/trials/{long['number']}").get_json()["state"] == "running"


def test_a_restarted_worker_resumes_its_own_running_trials(api: Any, study: str) -> None:
    mine = [ask(api, worker="gpu-7", lease_seconds=600)["number"] for _ in range(2)]
    ask(api, worker="gpu-8", lease_seconds=600)
    resumed = api.post("/v1/studies/s/trials/ask", json={"worker": "gpu-7", "resume": True}).get_json()["trials"]
    assert sorted(t["number"] for t in resumed) == mine
    assert all(t["state"] == "running" for t in resumed)
    fresh = api.post("/v1/studies/s/trials/ask", json={"worker": "gpu-9", "resume": True}).get_json()["trials"]
    assert [t["number"] for t in fresh] == [3]
    assert_error(api.post("/v1/studies/s/trials/ask", json={"resume": True}), 422, "invalid_resume")


def test_a_failed_random_trial_is_not_retried(api: Any, study: str) -> None:
    trial = ask(api)
    api.post(f"/v1/studies/s/trials/{trial['id']}/tell", json={"state": "failed", "error": "boom"})
    assert ask(api)["retry_of"] is None  # random search samples elsewhere; grid points are retried
