"""A study deleted and created again never mixes with its old self, on real gunicorn and Redis.

Every trial is handed out with an `id` that names its incarnation; tell, heartbeat and report
address the trial by that id, so a worker of an old incarnation gets 409 `study_recreated` and
changes nothing. Idempotency-Keys of requests on an incarnation die with it; a DELETE's key
outlives it, so a replayed DELETE never deletes a newer incarnation. And the counts a user reads
equal the trials they can list, even after a service process died between reserving trial
numbers and storing their params.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service.storage.keys import StudyKeys, study_key

from .servers import Gunicorn

SPACE = [
    {"name": "lr", "type": "float", "low": 1e-5, "high": 1, "scale": "log"},
    {"name": "beta", "type": "float", "low": 0.9, "high": 0.9999, "scale": "reverse_log"},
    {"name": "wd", "type": "float", "low": 1e-6, "high": 1e-2, "scale": "log"},
    {"name": "dropout", "type": "float", "low": 0.0, "high": 0.5},
    {"name": "layers", "type": "int", "low": 1, "high": 4},
]
# The next incarnation's space: other params, so a result meant for the old one cannot fit it.
OTHER_SPACE = [
    {"name": "x", "type": "float", "low": -5, "high": 5},
    {"name": "y", "type": "float", "low": 1e-3, "high": 10, "scale": "log"},
]


@pytest.fixture(scope="module")
def server(redis_url: str) -> Iterator[Gunicorn]:
    with Gunicorn({"REDIS_URL": redis_url}, workers=2) as running:
        yield running


@pytest.fixture
def http(server: Gunicorn, redis_client: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def value_of(params: dict[str, Any]) -> float:
    """What every worker here reports: a function of the params alone, so a result recorded on
    a trial with other params shows."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).digest()
    return int.from_bytes(digest[:6], "big") / 2**48


def create(http: httpx.Client, name: str, space: list[dict[str, Any]] = SPACE, **extra: Any) -> dict[str, Any]:
    response = http.put(f"/v1/studies/{name}", json={"space": space, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def ask(http: httpx.Client, name: str, count: int = 1, key: str | None = None, **body: Any) -> list[dict[str, Any]]:
    headers = {"Idempotency-Key": key} if key else {}
    response = http.post(f"/v1/studies/{name}/trials/ask", json={"count": count, **body}, headers=headers)
    assert response.status_code == 200, response.text
    trials: list[dict[str, Any]] = response.json()["trials"]
    return trials


def tell(http: httpx.Client, name: str, trial: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    body = {"state": "complete", "value": value_of(trial["params"])}
    return http.post(f"/v1/studies/{name}/trials/{trial['id']}/tell", json=body, headers=headers)


def error_code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def listed(http: httpx.Client, name: str) -> list[dict[str, Any]]:
    trials: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = http.get(f"/v1/studies/{name}/trials", params=params).json()
        trials += page["trials"]
        cursor = page["next_cursor"]
        if cursor is None:
            return trials


def assert_counts_equal_listed_trials(http: httpx.Client, name: str) -> list[dict[str, Any]]:
    trials = listed(http, name)
    counts = http.get(f"/v1/studies/{name}").json()["counts"]
    by_state = Counter(t["state"] for t in trials)
    assert counts == {**{s: by_state.get(s, 0) for s in counts if s != "total"}, "total": len(trials)}
    return trials


def test_every_trial_carries_an_id_its_reads_show_too(http: httpx.Client) -> None:
    create(http, "ids")
    first, second = ask(http, "ids", 2)
    assert first["id"] != second["id"]
    assert http.get(f"/v1/studies/ids/trials/{first['number']}").json()["id"] == first["id"]
    assert tell(http, "ids", first).json()["id"] == first["id"]
    assert [t["id"] for t in listed(http, "ids")] == [first["id"], second["id"]]
    http.delete("/v1/studies/ids")
    create(http, "ids")
    assert ask(http, "ids")[0]["id"] not in (first["id"], second["id"])


def test_tell_heartbeat_and_report_need_the_trials_id(http: httpx.Client) -> None:
    create(http, "need-id")
    trial = ask(http, "need-id")[0]
    for path in (f"trials/{trial['number']}", "trials/nonsense", f"trials/{trial['id']}9"):
        for action, body in (
            ("tell", {"state": "complete", "value": 1.0}),
            ("heartbeat", {}),
            ("report", {"step": 1, "value": 1.0}),
        ):
            response = http.post(f"/v1/studies/need-id/{path}/{action}", json=body)
            assert error_code(response) == (404, "trial_not_found"), (path, action, response.text)
    assert http.get("/v1/studies/need-id/trials/0").json()["state"] == "running"


def test_late_tells_heartbeats_and_reports_of_an_old_incarnation_change_nothing(http: httpx.Client) -> None:
    create(http, "late", sampler={"name": "random"})
    old = ask(http, "late", 8, worker="old")
    assert http.delete("/v1/studies/late").status_code == 204
    for trial in old:
        assert error_code(tell(http, "late", trial)) == (404, "study_not_found")
    create(http, "late", OTHER_SPACE, sampler={"name": "random"})
    new = ask(http, "late", 8, worker="new")
    assert [t["number"] for t in new] == [t["number"] for t in old]
    for trial in old:
        path = f"/v1/studies/late/trials/{trial['id']}"
        assert error_code(tell(http, "late", trial)) == (409, "study_recreated")
        assert error_code(http.post(f"{path}/heartbeat", json={"lease_seconds": 5})) == (409, "study_recreated")
        assert error_code(http.post(f"{path}/report", json={"step": 1, "value": 0.5})) == (409, "study_recreated")
    trials = assert_counts_equal_listed_trials(http, "late")
    assert trials == [{**t, "lease_expires_at": trials[i]["lease_expires_at"]} for i, t in enumerate(new)]
    assert all(t["state"] == "running" and t["worker"] == "new" for t in trials)
    curves = http.get("/v1/studies/late/curves", params={"numbers": "0,1,2,3,4,5,6,7"}).json()["curves"]
    assert all(curve["points"] == [] for curve in curves)
    for trial in new:
        assert tell(http, "late", trial).status_code == 200


def test_an_old_asks_idempotency_key_asks_afresh_in_the_new_incarnation(http: httpx.Client) -> None:
    create(http, "ask-key")
    first = ask(http, "ask-key", key="ask-1")
    http.delete("/v1/studies/ask-key")
    create(http, "ask-key", OTHER_SPACE)
    other = ask(http, "ask-key", worker="someone-else")
    # The retry's first answer went with the deleted incarnation: it is a new ask now, never an
    # empty answer and never another worker's trial.
    retried = ask(http, "ask-key", key="ask-1")
    assert len(retried) == 1 and retried[0]["id"] not in (first[0]["id"], other[0]["id"])
    assert set(retried[0]["params"]) == {"x", "y"}
    assert ask(http, "ask-key", key="ask-1") == retried
    assert len(assert_counts_equal_listed_trials(http, "ask-key")) == 2


def test_an_old_tells_idempotency_key_records_nothing_in_the_new_incarnation(http: httpx.Client) -> None:
    create(http, "tell-key")
    old = ask(http, "tell-key")[0]
    assert tell(http, "tell-key", old, key="tell-1").status_code == 200
    http.delete("/v1/studies/tell-key")
    create(http, "tell-key", OTHER_SPACE)
    new = ask(http, "tell-key")[0]
    assert new["number"] == old["number"]
    for _ in range(2):
        assert error_code(tell(http, "tell-key", old, key="tell-1")) == (409, "study_recreated")
    trials = assert_counts_equal_listed_trials(http, "tell-key")
    assert [(t["id"], t["state"]) for t in trials] == [(new["id"], "running")]


def test_a_replayed_delete_never_deletes_a_newer_incarnation(http: httpx.Client) -> None:
    create(http, "del-key")
    key = {"Idempotency-Key": "delete-1"}
    assert http.delete("/v1/studies/del-key", headers=key).status_code == 204
    create(http, "del-key", OTHER_SPACE)
    trial = ask(http, "del-key")[0]
    assert http.delete("/v1/studies/del-key", headers=key).status_code == 204
    assert http.get(f"/v1/studies/del-key/trials/{trial['number']}").json()["id"] == trial["id"]
    assert tell(http, "del-key", trial).status_code == 200


def test_counts_equal_listed_trials_after_a_process_dies_between_reserve_and_commit(
    http: httpx.Client, server: Gunicorn, redis_client: Any
) -> None:
    """A service process killed (SIGKILL) after its ask reserved trial numbers in Redis and before
    it stored their params: those numbers never become trials, and nothing counts them."""
    space = [{"name": f"p{i}", "type": "float", "low": 1e-6, "high": 1, "scale": "log"} for i in range(100)]
    create(http, "killed", space)
    ask(http, "killed")
    reserved = StudyKeys("killed", redis_client.hget(study_key("killed"), "uid")).reserved
    for _attempt in range(10):
        # An ask of 100 trials of 100 params spends its time in Python between the two scripts:
        # once its reservation shows in Redis, the process is killed before it can commit.
        asking = threading.Thread(target=lambda: _ask_ignoring_the_dropped_connection(server.url))
        asking.start()
        deadline = time.monotonic() + 10
        while not redis_client.hlen(reserved) and asking.is_alive() and time.monotonic() < deadline:
            pass
        if redis_client.hlen(reserved):
            for pid in server.worker_pids():
                os.kill(pid, signal.SIGKILL)
        asking.join()
        if redis_client.hlen(reserved):
            break
    else:
        pytest.fail("no ask was caught between reserve and commit")
    _wait_until_ready(server)
    lost = redis_client.hlen(reserved)
    after = ask(http, "killed")[0]
    trials = assert_counts_equal_listed_trials(http, "killed")
    assert after["number"] > len(trials) - 1, "the lost numbers stay unused"
    assert len(trials) == after["number"] + 1 - lost


def _ask_ignoring_the_dropped_connection(url: str) -> None:
    with contextlib.suppress(httpx.TransportError):  # the process serving it was killed
        httpx.post(f"{url}/v1/studies/killed/trials/ask", json={"count": 100}, timeout=30)


def _wait_until_ready(server: Gunicorn) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if len(server.worker_pids()) == 2 and httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("gunicorn did not start new workers")


# -- the concurrency test -------------------------------------------------------------------

CLIENTS = 16
PAIRS = 200
IN_FLIGHT = 8


class Worker(threading.Thread):
    """Keeps up to IN_FLIGHT trials asked and tells them in a random order, PAIRS times."""

    def __init__(self, url: str, index: int) -> None:
        super().__init__(name=f"worker-{index}")
        self.url = url
        self.worker = f"w{index}"
        self.random = random.Random(index)
        self.asked: list[dict[str, Any]] = []  # every trial handed out, in order
        self.told: list[dict[str, Any]] = []  # the server's answer to every tell it acknowledged
        self.refused: list[dict[str, Any]] = []  # trials whose tell got 409 study_recreated
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=60) as http:
                self._loop(http)
        except BaseException as exc:  # the test thread re-raises it
            self.error = exc

    def _loop(self, http: httpx.Client) -> None:
        running: list[dict[str, Any]] = []
        while len(self.told) + len(self.refused) < PAIRS:
            if len(running) < IN_FLIGHT and len(self.asked) < PAIRS:
                response = http.post("/v1/studies/mixed/trials/ask", json={"worker": self.worker})
                if response.status_code == 404:  # between a delete and the next create
                    time.sleep(0.005)
                    continue
                assert response.status_code == 200, response.text
                trial = response.json()["trials"][0]
                self.asked.append(trial)
                running.append(trial)
                continue
            trial = running.pop(self.random.randrange(len(running)))
            told = tell(http, "mixed", trial)
            if told.status_code == 200:
                self.told.append(told.json())
            else:
                assert error_code(told) in ((409, "study_recreated"), (404, "study_not_found")), told.text
                self.refused.append(trial)


def test_sixteen_clients_while_the_study_is_deleted_and_created_again_twice(
    http: httpx.Client, server: Gunicorn
) -> None:
    create(http, "mixed", SPACE, seed=1)
    workers = [Worker(server.url, i) for i in range(CLIENTS)]
    for worker in workers:
        worker.start()
    # Other seeds: a trial number of one incarnation gets other params in the next.
    for space, seed, at in ((OTHER_SPACE, 2, 1 / 3), (SPACE, 3, 2 / 3)):
        while sum(len(w.told) for w in workers) < at * CLIENTS * PAIRS and any(w.is_alive() for w in workers):
            time.sleep(0.01)
        assert http.delete("/v1/studies/mixed").status_code == 204
        create(http, "mixed", space, seed=seed)
    for worker in workers:
        worker.join()
        if worker.error is not None:
            raise worker.error

    asked = [t for w in workers for t in w.asked]
    told = [t for w in workers for t in w.told]
    by_id = {t["id"]: t for t in asked}
    assert len(by_id) == len(asked), "no id is handed out twice"
    incarnations = {t["id"].rsplit("-", 1)[0] for t in asked}
    assert len(incarnations) == 3, "every incarnation handed out trials"
    # A tell changed the trial it was meant for, with the params that trial was handed out with.
    for result in told:
        handed = by_id[result["id"]]
        assert (result["number"], result["params"], result["worker"]) == (
            handed["number"],
            handed["params"],
            handed["worker"],
        )
        assert result["value"] == value_of(handed["params"])
    # No two trials of one incarnation, running at once or not, got the same params.
    for incarnation in incarnations:
        params = [json.dumps(t["params"], sort_keys=True) for t in asked if t["id"].startswith(incarnation + "-")]
        assert len(set(params)) == len(params), "two trials of one incarnation share params"
    # The last incarnation holds exactly the trials asked of it, each told once by its worker.
    final = assert_counts_equal_listed_trials(http, "mixed")
    assert all(t["id"] in by_id and t["state"] == "complete" for t in final)
    assert len(final) == len({t["id"] for t in told} & {t["id"] for t in final})
    assert len(told) + sum(len(w.refused) for w in workers) == CLIENTS * PAIRS


def test_hand_controls_that_name_an_old_incarnation_change_nothing(http: httpx.Client) -> None:
    old = create(http, "controls")
    http.delete("/v1/studies/controls")
    new = create(http, "controls")
    assert old["id"] != new["id"]
    stale = {"study_id": old["id"]}
    for path, body in (
        ("pause", stale),
        ("enqueue", {"configurations": [{"lr": 0.1, "beta": 0.99, "wd": 1e-4, "dropout": 0.1, "layers": 2}], **stale}),
        ("regions", {"param": "lr", "low": 1e-3, "high": 1e-2, **stale}),
    ):
        assert error_code(http.post(f"/v1/studies/controls/{path}", json=body)) == (409, "study_recreated"), path
    study = http.get("/v1/studies/controls").json()
    assert (study["state"], study["queued"]) == ("active", 0)
    assert len(http.get("/v1/studies/controls/regions").json()["levels"]) == 1
    # The current id, or none at all, and the control acts.
    assert http.post("/v1/studies/controls/pause", json={"study_id": new["id"]}).json()["state"] == "paused"
    assert http.post("/v1/studies/controls/resume").json()["state"] == "active"
