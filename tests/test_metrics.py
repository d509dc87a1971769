"""GET /metrics: Prometheus text, right in one process and summed over gunicorn workers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from service.access import parse_tokens
from service.app import create_app
from service.config import Settings

from .servers import Gunicorn

SPACE = [{"name": "x", "type": "float", "low": 0, "high": 1}]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_time_asks_and_show_trials_by_state(api: Any) -> None:
    before = api.get("/metrics").get_data(as_text=True)
    api.put("/v1/studies/m", json={"space": SPACE})
    ids = [t["id"] for t in api.post("/v1/studies/m/trials/ask", json={"count": 3}).get_json()["trials"]]
    api.post(f"/v1/studies/m/trials/{ids[0]}/tell", json={"state": "complete", "value": 1.0})
    api.post(f"/v1/studies/m/trials/{ids[1]}/tell", json={"state": "failed"})
    api.get("/v1/studies/nope")
    for _ in range(2):  # the second is a client's retry, answered from its Idempotency-Key
        api.post(f"/v1/studies/m/trials/{ids[2]}/tell", json={"state": "pruned"}, headers={"Idempotency-Key": "k"})
    response = api.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    after = response.get_data(as_text=True)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ask_route = {"route": "/v1/studies/<name>/trials/ask", "method": "POST", "status": "200"}
    assert grew("hone_http_requests_total", **ask_route) == 1
    assert grew("hone_http_requests_total", route="/v1/studies/<name>", method="GET", status="404") == 1
    assert grew("hone_ask_seconds_count") == 1 and grew("hone_tell_seconds_count") == 4
    assert grew("hone_idempotent_replays_total") == 1
    assert value(after, "hone_study_trials", study="m", state="pruned") == 1
    assert value(after, "hone_study_trials", study="m", state="complete") == 1
    assert value(after, "hone_study_trials", study="m", state="running") == 0
    assert value(after, "hone_study_trials", study="m", state="failed") == 1


def test_metrics_need_a_read_token_once_tokens_exist(settings: Settings, redis_client: Any) -> None:
    tokens = parse_tokens(json.dumps([{"name": "r", "token": "metrics-reader-0123456789", "scopes": ["read"]}]))
    api = create_app({"settings": Settings(redis_url=settings.redis_url, tokens=tokens)}).test_client()
    assert api.get("/metrics").status_code == 401
    assert api.get("/metrics", headers={"Authorization": "Bearer metrics-reader-0123456789"}).status_code == 200


def test_counts_are_summed_over_gunicorn_workers(tmp_path: Path) -> None:
    with (
        Gunicorn({"HONE_DATA_DIR": str(tmp_path / "data")}, workers=2) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        http.put("/v1/studies/m", json={"space": SPACE})
        for _ in range(40):
            # A new connection each time, so the requests spread over both workers.
            httpx.post(f"{server.url}/v1/studies/m/trials/ask", json={})
        texts = [http.get("/metrics").text for _ in range(4)]
    route = {"route": "/v1/studies/<name>/trials/ask", "method": "POST", "status": "200"}
    assert all(value(text, "hone_http_requests_total", **route) == 40 for text in texts)
    assert all(value(text, "hone_ask_seconds_count") == 40 for text in texts)
