"""Samplers under real concurrency: 8 processes against gunicorn on one study.

The grid hands each point out exactly once and offers failed points again; coarse-to-fine zooms
exactly once per level however many asks race at a level's end.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .servers import Gunicorn

WORKERS = 8
GRID_SPACE = [
    {"name": "lr", "type": "float", "low": 1e-4, "high": 1, "scale": "log"},
    {"name": "units", "type": "int", "low": 1, "high": 100},
    {"name": "act", "type": "categorical", "choices": ["relu", "tanh", "gelu", "silu", "elu"]},
]
LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 0.5, 1.0]
UNITS = [1, 2, 4, 8, 16, 32, 50, 64, 99, 100]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    with Gunicorn({"HONE_DATA_DIR": str(tmp_path_factory.mktemp("data"))}, workers=2) as running:
        yield running


def _grid_worker(url: str, worker: str) -> list[dict[str, Any]]:
    """Ask until the grid is exhausted; fail every 7th first attempt. Returns what it told."""
    told = []
    with httpx.Client(base_url=url, timeout=30) as http:
        while True:
            response = http.post("/v1/studies/grid/trials/ask", json={"worker": worker})
            if response.status_code == 409:
                assert response.json()["error"]["code"] == "search_exhausted"
                return told
            trial = response.json()["trials"][0]
            fail = trial["attempt"] == 0 and trial["number"] % 7 == 3
            body = {"state": "failed", "error": "oom"} if fail else {"state": "complete", "value": 1.0}
            assert http.post(f"/v1/studies/grid/trials/{trial['id']}/tell", json=body).status_code == 200
            told.append({**trial, "state": body["state"]})


def test_eight_processes_get_every_grid_point_exactly_once(server: Gunicorn) -> None:
    sampler = {"name": "grid", "values": {"lr": LRS, "units": UNITS}, "shuffle": True}
    assert httpx.put(f"{server.url}/v1/studies/grid", json={"space": GRID_SPACE, "sampler": sampler}).status_code == 201
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        results = pool.starmap(_grid_worker, [(server.url, f"w{i}") for i in range(WORKERS)])
    told = [t for result in results for t in result]
    point = lambda t: (t["params"]["lr"], t["params"]["units"], t["params"]["act"])  # noqa: E731
    complete = Counter(point(t) for t in told if t["state"] == "complete")
    expected = set(itertools.product(LRS, UNITS, [c for c in GRID_SPACE[2]["choices"]]))
    assert len(expected) == 500
    assert set(complete) == expected and set(complete.values()) == {1}
    failed = [t for t in told if t["state"] == "failed"]
    assert failed, "some first attempts failed"
    retries = {t["retry_of"]: t for t in told if t["attempt"] == 1}
    assert sorted(retries) == sorted(t["number"] for t in failed)
    assert all(point(retries[t["number"]]) == point(t) for t in failed)
    study = httpx.get(f"{server.url}/v1/studies/grid").json()
    assert study["points"] == {"total": 500, "remaining": 0}
    assert study["counts"]["complete"] == 500 and study["counts"]["failed"] == len(failed)


def _c2f_worker(url: str, worker: str, pairs: int) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(pairs):
            trial = http.post("/v1/studies/zoom/trials/ask", json={"worker": worker}).json()["trials"][0]
            value = (trial["params"]["x"] - 0.3) ** 2 + (trial["params"]["y"] - 0.6) ** 2
            http.post(f"/v1/studies/zoom/trials/{trial['id']}/tell", json={"state": "complete", "value": value})


def test_eight_workers_zoom_exactly_once_per_level(server: Gunicorn) -> None:
    space = [{"name": n, "type": "float", "low": 0, "high": 1} for n in ("x", "y")]
    sampler = {"name": "coarse_to_fine", "initial_trials": 8, "trials_per_level": 8}
    assert httpx.put(f"{server.url}/v1/studies/zoom", json={"space": space, "sampler": sampler}).status_code == 201
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        pool.starmap(_c2f_worker, [(server.url, f"w{i}", 25) for i in range(WORKERS)])
    regions = httpx.get(f"{server.url}/v1/studies/zoom/regions").json()
    levels = regions["levels"]
    assert regions["current"] == len(levels) - 1 >= 3
    # A second zoom racing the first would open a level that gets (almost) no trials: every level
    # before the current one got at least its budget, and the levels share the 200 trials.
    assert all(level["asked"] >= 8 for level in levels[:-1])
    assert sum(level["asked"] for level in levels) == 200
    assert sum(level["finished"] for level in levels) == 200
    starts = [level["first_draw"] for level in levels]
    assert starts == sorted(set(starts))
