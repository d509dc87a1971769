"""Workers in any language, on many machines: a Node.js worker, and separate client processes sharing a study.

Everything here goes through a real gunicorn server with its embedded Redis, the way separate
machines would reach it.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import hone
import pytest

from .client_helpers import SPACE, loss
from .servers import ROOT, Gunicorn

NODE_WORKER = ROOT / "docs" / "examples" / "worker.mjs"
DEADLINE = 300.0  # seconds for a whole worker run on a shared two-core machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    with Gunicorn({"HONE_DATA_DIR": str(tmp_path_factory.mktemp("data"))}, workers=2) as server:
        yield server


def assert_every_trial_recorded_once(url: str, name: str, total: int) -> list[hone.FrozenTrial]:
    with hone.Client(url) as client:
        study = client.study(name)
        trials = list(study.trials())
        counts = study.info().counts
    assert [t.number for t in trials] == list(range(total))
    assert dict(counts) == {"running": 0, "complete": total, "failed": 0, "pruned": 0, "expired": 0, "total": total}
    for trial in trials:
        assert trial.value == pytest.approx(loss(dict(trial.params)))
    return trials


# -- a worker without Python ------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_two_node_workers_complete_a_study(server: Gunicorn) -> None:
    env = {**os.environ, "HONE_URL": server.url, "HONE_STUDY": "node", "TRIALS": "15"}
    workers = [
        subprocess.Popen(["node", str(NODE_WORKER)], env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=DEADLINE)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]

    trials = assert_every_trial_recorded_once(server.url, "node", 30)
    by_worker = {w: sum(t.worker == w for t in trials) for w in {t.worker for t in trials}}
    assert sorted(by_worker.values()) == [15, 15] and all(w and w.startswith("node-") for w in by_worker)
    for output in outputs:  # each ends by printing the best trial it knows of
        assert json.loads(output.splitlines()[-1])["state"] == "complete"


BASH_WORKER = ROOT / "docs" / "examples" / "worker.sh"


@pytest.mark.skipif(shutil.which("jq") is None or shutil.which("curl") is None, reason="needs curl and jq")
def test_two_bash_workers_from_the_readme_complete_a_study(server: Gunicorn) -> None:
    space = [{"name": "lr", "type": "float", "low": 1e-4, "high": 1, "scale": "log"}]
    with hone.Client(server.url) as client:
        study = client.study("bash", space=space, seed=3)
        env = {**os.environ, "HONE_URL": server.url, "STUDY": "bash", "TRIALS": "6"}
        workers = [subprocess.Popen([str(BASH_WORKER)], env=env) for _ in range(2)]
        assert [worker.wait(timeout=DEADLINE) for worker in workers] == [0, 0]
        trials = list(study.trials())
        assert dict(study.info().counts)["complete"] == 12
    assert len({t.number for t in trials}) == 12
    for trial in trials:
        assert trial.value == pytest.approx((math.log10(trial.params["lr"]) + 2) ** 2)
    assert BASH_WORKER.read_text() in (ROOT / "README.md").read_text()


def test_the_documented_node_worker_is_the_tested_one() -> None:
    docs = (ROOT / "docs" / "client.md").read_text()
    blocks = re.findall(r"```js\n(.*?)```", docs, flags=re.DOTALL)
    assert NODE_WORKER.read_text() in blocks


# -- many machines ----------------------------------------------------------------------------


def objective(trial: hone.Trial) -> float:
    return loss(dict(trial.params))


def _machine(url: str, n_trials: int) -> list[int]:
    """One machine: its own client, the same get-or-create line as every other, then its trials."""
    told: list[int] = []
    with hone.Client(url) as client:
        study = client.study("shared", space=SPACE, seed=11)
        study.optimize(objective, n_trials=n_trials, callbacks=[lambda s, trial: told.append(trial.number)])
    return told


def test_three_client_processes_share_one_study(server: Gunicorn) -> None:
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        told = pool.starmap(_machine, [(server.url, 20)] * 3)
    assert [len(numbers) for numbers in told] == [20, 20, 20]
    assert sorted(n for numbers in told for n in numbers) == list(range(60))  # every number handed out once
    trials = assert_every_trial_recorded_once(server.url, "shared", 60)
    assert len({t.worker for t in trials}) == 3


def test_optimize_in_processes(server: Gunicorn) -> None:
    with hone.Client(server.url) as client:
        study = client.study("processes", space=SPACE)
        study.optimize(objective, n_trials=13, n_workers=3, processes=True)
    trials = assert_every_trial_recorded_once(server.url, "processes", 13)
    assert sorted(sum(t.worker == w for t in trials) for w in {t.worker for t in trials}) == [4, 4, 5]


# -- a server that is not up yet --------------------------------------------------------------


class _Retries(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "ConnectError" in record.getMessage():
            self.seen.set()


def test_a_client_started_before_the_server_waits_for_it(tmp_path: Path) -> None:
    server = Gunicorn({"HONE_DATA_DIR": str(tmp_path / "data")}, workers=1)
    retries = _Retries()
    logger = logging.getLogger("hone")
    logger.addHandler(retries)
    logger.setLevel(logging.INFO)
    result: list[str] = []

    def early_worker() -> None:
        with hone.Client(server.url, retries=60, backoff=0.05) as client:
            result.append(client.study("early", space=SPACE).name)

    thread = threading.Thread(target=early_worker)
    try:
        thread.start()
        assert retries.seen.wait(DEADLINE), "the client never found the server missing"
        with server:
            thread.join(DEADLINE)
    finally:
        logger.removeHandler(retries)
        logger.setLevel(logging.NOTSET)
    assert result == ["early"]
