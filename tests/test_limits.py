"""Every configured limit answers a clear 4xx, and the stored study is untouched."""

from __future__ import annotations

from typing import Any

import pytest

from service.app import create_app
from service.config import Limits, Settings

from .test_studies_api import assert_error

LIMITS = Limits(
    max_request_bytes=4096,
    max_ask_count=5,
    max_params=3,
    max_choices=4,
    max_metadata_bytes=100,
    max_trials_per_study=7,
    max_page_size=10,
)
SPACE = [{"name": "x", "type": "float", "low": 0, "high": 1}]


@pytest.fixture
def limited(settings: Settings, redis_client: Any) -> Any:
    api = create_app({"settings": Settings(redis_url=settings.redis_url, limits=LIMITS)}).test_client()
    assert api.put("/v1/studies/s", json={"space": SPACE}).status_code == 201
    return api


def test_request_size(limited: Any) -> None:
    body = {"space": SPACE, "metadata": {"x": "y" * 5000}}
    assert_error(limited.put("/v1/studies/t", json=body), 413, "body_too_large")


def test_ask_count(limited: Any) -> None:
    error = assert_error(limited.post("/v1/studies/s/trials/ask", json={"count": 6}), 422, "invalid_count")
    assert "between 1 and 5" in error["message"]


def test_params_per_space_and_choices(limited: Any) -> None:
    many = [{"name": f"p{i}", "type": "float", "low": 0, "high": 1} for i in range(4)]
    assert assert_error(limited.put("/v1/studies/t", json={"space": many}), 422)["details"]["rule"] == "max_params"
    choices = [{"name": "c", "type": "categorical", "choices": list("abcde")}]
    assert assert_error(limited.put("/v1/studies/t", json={"space": choices}), 422)["details"]["rule"] == "max_choices"


def test_metadata_size(limited: Any) -> None:
    body = {"space": SPACE, "metadata": {"note": "z" * 200}}
    assert_error(limited.put("/v1/studies/t", json=body), 422, "metadata_too_large")


def test_trials_per_study(limited: Any) -> None:
    assert len(limited.post("/v1/studies/s/trials/ask", json={"count": 5}).get_json()["trials"]) == 5
    assert len(limited.post("/v1/studies/s/trials/ask", json={"count": 5}).get_json()["trials"]) == 2
    error = assert_error(limited.post("/v1/studies/s/trials/ask", json={}), 422, "too_many_trials")
    assert error["details"] == {"max": 7}
    assert limited.get("/v1/studies/s").get_json()["counts"]["running"] == 7


def test_page_size(limited: Any) -> None:
    assert_error(limited.get("/v1/studies/s/trials?limit=11"), 422, "invalid_limit")
    assert_error(limited.get("/v1/studies?limit=11"), 422, "invalid_limit")
    assert limited.get("/v1/studies/s/trials?limit=10").status_code == 200


def test_limits_come_from_the_environment() -> None:
    settings = Settings.from_env({"HONE_MAX_ASK_COUNT": "5", "HONE_MAX_TRIALS_PER_STUDY": "7"})
    assert settings.limits.max_ask_count == 5 and settings.limits.max_trials_per_study == 7
