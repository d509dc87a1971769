"""Test fixtures: a real Redis that only the tests touch, flushed around every test.

Every test that uses Redis runs twice: on one redis-server, and on a 3-master Redis Cluster
started from the same binaries, so nothing that works on one node breaks across slots. A test
marked `edge` runs on the redis-server only: what it checks is refused before storage is called,
where the cluster cannot change the outcome.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.config import Settings
from service.storage.connection import connect

from .servers import RedisCluster, start_redis


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def cluster_repeat_of_an_edge_test(item: pytest.Item) -> bool:
        callspec = getattr(item, "callspec", None)
        return (
            item.get_closest_marker("edge") is not None
            and callspec is not None
            and callspec.params.get("redis_url") == "cluster"
        )

    repeats = [item for item in items if cluster_repeat_of_an_edge_test(item)]
    if repeats:
        config.hook.pytest_deselected(items=repeats)
        items[:] = [item for item in items if not cluster_repeat_of_an_edge_test(item)]


@pytest.fixture(scope="session", params=["standalone", "cluster"])
def redis_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "cluster":
        cluster = RedisCluster(Path(tmp_path_factory.mktemp("cluster"))).start()
        try:
            yield cluster.url
        finally:
            cluster.stop()
        return
    given = os.environ.get("REDIS_URL")
    if given:
        if connect(given).dbsize():
            pytest.exit(f"refusing to run: the Redis at {given} is not empty and the tests flush it", returncode=2)
        yield given
        return
    server = start_redis(Path(tmp_path_factory.mktemp("redis")))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Any]:
    client = connect(redis_url)
    client.flushall()
    yield client
    client.flushall()
    client.close()


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(redis_url=redis_url)


@pytest.fixture
def app(settings: Settings, redis_client: Any) -> Any:
    return create_app({"settings": settings, "TESTING": True})


@pytest.fixture
def api(app: Any) -> Any:
    return app.test_client()
