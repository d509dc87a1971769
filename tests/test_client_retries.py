"""Retries: lost answers, Redis going away, and which errors are final. Against the real app in process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hone
import httpx
import pytest
from hone._exceptions import error_from_response

from service.app import create_app
from service.config import Settings
from service.embedded_redis import free_port
from service.storage.keys import StudyKeys, study_key

from .client_helpers import SPACE, Tap, client_for
from .servers import start_redis


def lose_first_answer_to(*suffixes: str) -> Any:
    """An `after` hook: the first answer to each path ending in a suffix is lost once the server acted."""
    lost: set[str] = set()

    def after(request: httpx.Request, response: httpx.Response) -> None:
        suffix = next((s for s in suffixes if request.url.path.endswith(s)), None)
        if suffix is not None and suffix not in lost:
            lost.add(suffix)
            raise httpx.ReadError("connection reset by peer", request=request)

    return after


def keys(tap: Tap, suffix: str) -> list[str | None]:
    return [r.headers.get("Idempotency-Key") for r in tap.requests if r.url.path.endswith(suffix)]


def test_a_retried_ask_and_tell_whose_answers_were_lost_count_once(app: Any) -> None:
    tap = Tap(app, lose_first_answer_to("/v1/studies/s", "/ask", "/tell"))
    with client_for(tap, backoff=0) as client:
        study = client.study("s", space=SPACE)
        trial = study.ask()
        assert trial.number == 0
        assert trial.tell(0.5).value == 0.5
        counts = study.info().counts

    assert counts["total"] == 1 and counts["complete"] == 1 and counts["running"] == 0
    for suffix in ("/v1/studies/s", "/ask", "/tell"):
        first, retry = keys(tap, suffix)[:2]
        assert first is not None and first == retry, suffix  # one key for one logical call, across retries
    assert keys(tap, "/ask")[0] != keys(tap, "/tell")[0]


def test_an_ask_whose_key_is_still_being_served_is_retried_until_it_is_free(app: Any, redis_client: Any) -> None:
    # Another service process is still serving an attempt with this key: its marker is in Redis.
    # The first answer is 409 request_in_progress; the marker then lapses and the retry runs.
    def in_flight_marker(request: httpx.Request) -> str:
        keys = StudyKeys("s", redis_client.hget(study_key("s"), "uid"))
        return keys.idempotency(request.headers["Idempotency-Key"])

    class FirstAskInFlight(Tap):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/ask") and not keys(self, "/ask"):
                redis_client.set(in_flight_marker(request), "pending")
            return super().handle_request(request)

    def lapse(request: httpx.Request, response: httpx.Response) -> None:
        if response.status_code == 409:
            redis_client.delete(in_flight_marker(request))

    tap = FirstAskInFlight(app, lapse)
    with client_for(tap, backoff=0) as client:
        study = client.study("s", space=SPACE)
        assert study.ask().number == 0
        assert study.info().counts["total"] == 1
    first, retry = keys(tap, "/ask")
    assert first == retry


def test_heartbeats_carry_an_idempotency_key(app: Any) -> None:
    tap = Tap(app)
    with client_for(tap) as client:
        study = client.study("s", space=SPACE)
        trial_id = study.ask().id
        study.heartbeat(trial_id)
        study.heartbeat(trial_id)
    first, second = keys(tap, "/heartbeat")
    assert first and second and first != second


def test_redis_going_away_is_retried_until_it_is_back(tmp_path: Path) -> None:
    redis_server = start_redis(tmp_path)
    app = create_app({"settings": Settings(redis_url=redis_server.url)})
    statuses: list[int] = []

    def restart_on_first_503(request: httpx.Request, response: httpx.Response) -> None:
        statuses.append(response.status_code)
        if response.status_code == 503 and statuses.count(503) == 1:
            redis_server.start()

    try:
        with client_for(Tap(app, restart_on_first_503), backoff=0.01) as client:
            study = client.study("s", space=SPACE)
            redis_server.stop()
            trial = study.ask()
            assert trial.number == 0
        assert statuses[-2:] == [503, 200]
    finally:
        redis_server.stop()


def test_a_503_that_outlasts_the_retries_is_raised(tmp_path: Path) -> None:
    redis_server = start_redis(tmp_path)
    app = create_app({"settings": Settings(redis_url=redis_server.url)})
    tap = Tap(app)
    try:
        with client_for(tap, retries=2, backoff=0) as client:
            study = client.study("s", space=SPACE)
            redis_server.stop()
            with pytest.raises(hone.ServiceUnavailable) as unavailable:
                study.ask()
    finally:
        redis_server.stop()
    assert unavailable.value.code == "storage_unavailable" and unavailable.value.status == 503
    assert len(keys(tap, "/ask")) == 3  # the first try and two retries


def test_errors_the_client_can_fix_are_not_retried(app: Any) -> None:
    tap = Tap(app)
    with client_for(tap, backoff=0) as client, pytest.raises(hone.NotFound):
        client.study("missing")
    assert len(tap.requests) == 1


def test_no_server_is_a_transport_error() -> None:
    with (
        hone.Client(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0) as client,
        pytest.raises(hone.TransportError, match="ConnectError"),
    ):
        client.studies()


def test_an_error_page_that_is_not_hones_still_maps_to_the_tree() -> None:
    request = httpx.Request("GET", "http://hone.test/v1/studies")
    error = error_from_response(httpx.Response(502, text="<html>Bad Gateway</html>", request=request))
    assert isinstance(error, hone.ServiceUnavailable)
    assert (error.status, error.code, error.message) == (502, "http_502", "Bad Gateway")
    teapot = error_from_response(httpx.Response(418, json={"error": {"code": "teapot", "message": "no"}}))
    assert type(teapot) is hone.APIError and teapot.code == "teapot" and teapot.details is None


def test_errors_survive_pickling_across_processes() -> None:
    import pickle

    error = hone.Conflict(409, "trial_finished", "trial 3 is already complete", {"state": "complete"})
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is hone.Conflict
    assert (copy.status, copy.code, copy.message, copy.details) == (409, "trial_finished", error.message, error.details)
