"""Load and faults through the Python client, against real gunicorn and a real Redis.

Clients retry (with their Idempotency-Keys) through a killed gunicorn worker, a Redis crash and
restart, and a worker process killed mid-trial. Nothing acknowledged may be lost and nothing may
be counted twice.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hone
import httpx
import pytest

from .servers import Gunicorn, start_redis

SPACE = [
    hone.Float("lr", 1e-5, 1, scale="log"),
    hone.Float("beta", 0.9, 0.9999, scale="reverse_log"),
    hone.Int("units", 16, 512, scale="log"),
]
DEADLINE = 120.0


def objective(params: dict[str, Any]) -> float:
    return params["lr"] * params["units"] + (1 - params["beta"])


def _worker(url: str, study: str, pairs: int) -> list[tuple[int, float]]:
    """Ask and tell `pairs` times; returns the (number, value) of every acknowledged tell."""
    told = []
    with hone.Client(url, retries=12, backoff=0.1) as client:
        handle = client.study(study)
        for _ in range(pairs):
            with handle.ask() as trial:
                value = objective(dict(trial.params))
                trial.tell(value)
            told.append((trial.number, value))
    return told


def run_workers(url: str, study: str, processes: int, pairs: int, during: Any = None) -> list[tuple[int, float]]:
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pending = pool.starmap_async(_worker, [(url, study, pairs)] * processes)
        if during is not None:
            during()
        results = pending.get(timeout=DEADLINE)
    return [pair for result in results for pair in result]


def create(url: str, study: str, **options: Any) -> None:
    with hone.Client(url) as client:
        client.study(study, space=SPACE, seed=1, sampler="random", **options)


def assert_every_acknowledged_tell_is_recorded_once(url: str, study: str, told: list[tuple[int, float]]) -> None:
    numbers = [number for number, _ in told]
    assert len(numbers) == len(set(numbers)), "a trial number was handed to two workers"
    with hone.Client(url) as client:
        handle = client.study(study)
        recorded = {t.number: t for t in handle.trials()}
        counts = handle.info().counts
    for number, value in told:
        assert recorded[number].state == hone.TrialState.COMPLETE
        assert recorded[number].value == value
    complete = [t for t in recorded.values() if t.state == hone.TrialState.COMPLETE]
    assert counts["complete"] == len(complete) == len(told)
    assert counts["running"] == 0


def wait_for_completed(url: str, study: str, at_least: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while httpx.get(f"{url}/v1/studies/{study}").json()["counts"]["complete"] < at_least:
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Any]:
    # appendfsync always: every acknowledged write is on disk before the answer leaves Redis.
    server = start_redis(tmp_path / "redis", "--appendfsync", "always", tcp=True)
    yield server
    server.stop()


def test_eight_processes_times_250_pairs_through_the_client(tmp_path: Path) -> None:
    with Gunicorn({"HONE_DATA_DIR": str(tmp_path / "data")}, workers=2) as server:
        create(server.url, "load")
        told = run_workers(server.url, "load", 8, 250)
        assert len(told) == 2000
        assert sorted(n for n, _ in told) == list(range(2000))
        assert_every_acknowledged_tell_is_recorded_once(server.url, "load", told)


def test_a_gunicorn_worker_killed_mid_load(tmp_path: Path) -> None:
    with Gunicorn({"HONE_DATA_DIR": str(tmp_path / "data")}, workers=2) as server:
        create(server.url, "kill")

        def kill_a_worker() -> None:
            wait_for_completed(server.url, "kill", 100)
            os.kill(server.worker_pids()[0], signal.SIGKILL)  # gunicorn starts a new one

        told = run_workers(server.url, "kill", 4, 150, during=kill_a_worker)
        assert len(told) == 600
        assert_every_acknowledged_tell_is_recorded_once(server.url, "kill", told)


def test_redis_crashed_and_restarted_mid_load(redis_server: Any) -> None:
    with Gunicorn({"REDIS_URL": redis_server.url}, workers=2) as server:
        create(server.url, "crash")

        def crash_redis() -> None:
            wait_for_completed(server.url, "crash", 100)
            assert redis_server.process is not None
            redis_server.process.kill()
            redis_server.process.wait()
            assert httpx.get(f"{server.url}/readyz").status_code == 503
            time.sleep(1.0)  # the clients see 503s and back off meanwhile
            redis_server.start()

        told = run_workers(server.url, "crash", 4, 150, during=crash_redis)
        assert len(told) == 600
        assert_every_acknowledged_tell_is_recorded_once(server.url, "crash", told)


ASK_AND_HANG = """
import sys, time, hone
with hone.Client(sys.argv[1]) as client:
    trial = client.study("hang").ask()
    print(trial.number, flush=True)
    time.sleep(600)
"""


def test_a_worker_process_killed_mid_trial_gives_its_configuration_back(tmp_path: Path) -> None:
    with Gunicorn({"HONE_DATA_DIR": str(tmp_path / "data")}, workers=2) as server:
        create(server.url, "hang", lease_seconds=2)
        doomed = subprocess.Popen([sys.executable, "-c", ASK_AND_HANG, server.url], stdout=subprocess.PIPE, text=True)
        assert doomed.stdout is not None
        number = int(doomed.stdout.readline())
        doomed.kill()  # SIGKILL: no tell, no more heartbeats
        doomed.wait()
        with hone.Client(server.url) as client:
            lost = client.study("hang").trial(number)
            time.sleep(2.5)  # past the lease
            retry = client.study("hang").ask()
            assert retry.record.retry_of == number and dict(retry.params) == dict(lost.params)
            retry.tell(1.0)
            assert client.study("hang").trial(number).state == hone.TrialState.EXPIRED
            assert client.study("hang").info().counts["expired"] == 1
