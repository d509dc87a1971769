"""Stateless service processes: two gunicorn instances on one Redis (or one Redis Cluster) serve
one study, with workers spread over both, and the counts come out exact."""

from __future__ import annotations

import multiprocessing
from typing import Any

import httpx

from .servers import Gunicorn
from .test_gunicorn import SPACE, _ask_and_tell


def test_two_instances_share_one_study(redis_url: str, redis_client: Any) -> None:
    env = {"REDIS_URL": redis_url}
    with Gunicorn(env, workers=2) as first, Gunicorn(env, workers=2) as second:
        assert httpx.put(f"{first.url}/v1/studies/shared", json={"space": SPACE, "seed": 5}).status_code == 201
        # The second instance knows the study at once: nothing about it lives in the first.
        assert httpx.put(f"{second.url}/v1/studies/shared", json={"space": SPACE, "seed": 5}).status_code == 200
        jobs = [(server.url, f"{server.port}-{i}", 100) for i in range(2) for server in (first, second)]
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            numbers = [n for result in pool.starmap(_ask_and_tell, jobs) for n in result]
        assert sorted(numbers) == list(range(400))
        for server in (first, second):
            counts = httpx.get(f"{server.url}/v1/studies/shared").json()["counts"]
            assert counts == {"running": 0, "complete": 400, "failed": 0, "pruned": 0, "expired": 0, "total": 400}
