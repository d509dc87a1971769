"""schemathesis against /openapi.json: generated requests never get a 500 or a response that
breaks the published spec. Each operation gets a few hundred examples."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.access import parse_tokens
from service.app import create_app
from service.config import Settings

EXAMPLES = 300
SECRET = "fuzz-admin-secret-0123456789"
TOKENS = parse_tokens(f'[{{"name": "fuzz", "token": "{SECRET}", "scopes": ["admin"]}}]')
AUTH = {"Authorization": f"Bearer {SECRET}"}
FUZZ_SPACE = [
    {"name": "lr", "type": "float", "low": 1e-5, "high": 1, "scale": "log"},
    {"name": "opt", "type": "categorical", "choices": ["sgd", "adam"]},
    {
        "name": "m",
        "type": "float",
        "low": 0.9,
        "high": 0.99,
        "scale": "reverse_log",
        "condition": {"param": "opt", "in": ["sgd"]},
    },
]


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """An import body: whatever was generated (a binary string), as it is."""
    return value if isinstance(value, bytes) else str(value).encode()


def _operations() -> list[tuple[str, str]]:
    # Building the app does not touch Redis (connections are lazy), so the spec is known at collection.
    offline = Settings(redis_url="redis://127.0.0.1:1/0", tokens=TOKENS)
    spec = create_app({"settings": offline}).test_client().get("/openapi.json")
    return [
        (method.upper(), path)
        for path, item in spec.get_json()["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete")
    ]


OPERATIONS = _operations()


def seed_study(api: Any) -> None:
    """A study with running and finished trials, so generated calls reach past the 404s."""
    api.put("/v1/studies/fuzz", json={"space": FUZZ_SPACE, "seed": 1}, headers=AUTH)
    trials = api.post("/v1/studies/fuzz/trials/ask", json={"count": 4}, headers=AUTH).get_json()["trials"]
    outcomes = ({"state": "complete", "value": 1.5}, {"state": "failed", "error": "x"})
    for trial, outcome in zip(trials, outcomes, strict=False):
        api.post(f"/v1/studies/fuzz/trials/{trial['number']}/tell", json=outcome, headers=AUTH)


@pytest.mark.parametrize("live_study", [False, True], ids=["any-name", "live-study"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_generated_requests_get_no_500_and_match_the_spec(
    settings: Settings, redis_client: Any, method: str, path: str, live_study: bool
) -> None:
    app = create_app({"settings": Settings(redis_url=settings.redis_url, tokens=TOKENS)})
    api = app.test_client()
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operation = schema[path][method]
    if live_study:
        seed_study(api)

    @given(case=operation.as_strategy())
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        if live_study and case.path_parameters:
            if "name" in case.path_parameters:
                case.path_parameters["name"] = "fuzz"
            if "number" in case.path_parameters:
                case.path_parameters["number"] = abs(case.path_parameters["number"]) % 6
        # Rules between fields (low < high, configured limits) refuse some schema-valid bodies with
        # a documented 422, so "schema-valid means accepted" does not hold by design.
        case.call_and_validate(headers=AUTH, excluded_checks=[positive_data_acceptance])

    check()
