"""The real thing: gunicorn with several workers on the embedded Redis, many processes at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import httpx

from .servers import Gunicorn

SPACE = [
    {"name": "lr", "type": "float", "low": 1e-5, "high": 1, "scale": "log"},
    {"name": "beta", "type": "float", "low": 0.9, "high": 0.9999, "scale": "reverse_log"},
]


def _ask_and_tell(url: str, worker: str, pairs: int) -> list[int]:
    numbers = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(pairs):
            trial = http.post("/v1/studies/shared/trials/ask", json={"worker": worker}).json()["trials"][0]
            value = trial["params"]["lr"] * (1 - trial["params"]["beta"])
            told = http.post(
                f"/v1/studies/shared/trials/{trial['id']}/tell", json={"state": "complete", "value": value}
            )
            assert told.status_code == 200, told.text
            numbers.append(trial["number"])
    return numbers


def test_four_processes_share_one_study_through_gunicorn_and_survive_a_restart(tmp_path: Path) -> None:
    env = {"HONE_DATA_DIR": str(tmp_path / "data")}
    with Gunicorn(env, workers=2) as server:
        assert httpx.put(f"{server.url}/v1/studies/shared", json={"space": SPACE, "seed": 3}).status_code == 201
        with multiprocessing.get_context("spawn").Pool(4) as pool:
            results = pool.starmap(_ask_and_tell, [(server.url, f"w{i}", 100) for i in range(4)])
        numbers = [n for result in results for n in result]
        assert len(numbers) == 400
        assert sorted(numbers) == list(range(400))
        study = httpx.get(f"{server.url}/v1/studies/shared").json()
        assert study["counts"] == {"running": 0, "complete": 400, "failed": 0, "pruned": 0, "expired": 0, "total": 400}
        best = study["best"]

    assert (tmp_path / "data" / "appendonly.aof").exists() or (tmp_path / "data" / "appendonlydir").exists()
    with Gunicorn(env, workers=2) as server:
        study = httpx.get(f"{server.url}/v1/studies/shared").json()
        assert study["counts"]["complete"] == 400
        assert study["best"] == best
