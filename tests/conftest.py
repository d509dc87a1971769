"""Test fixtures: a real Redis server that only the tests touch, flushed around every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from service.app import create_app
from service.config import Settings

from .servers import start_redis


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("REDIS_URL")
    if given:
        client = redis.Redis.from_url(given)
        if client.dbsize():
            pytest.exit(f"refusing to run: the Redis at {given} is not empty and the tests flush it", returncode=2)
        yield given
        return
    server = start_redis(Path(tmp_path_factory.mktemp("redis")))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushall()
    yield client
    client.flushall()
    client.close()


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(redis_url=redis_url)


@pytest.fixture
def app(settings: Settings, redis_client: redis.Redis) -> Any:
    return create_app({"settings": settings, "TESTING": True})


@pytest.fixture
def api(app: Any) -> Any:
    return app.test_client()
