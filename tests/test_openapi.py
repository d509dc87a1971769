"""The OpenAPI document: valid, complete for generators, and stating the limits the server enforces."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from openapi_spec_validator import validate

from service.access import parse_tokens
from service.app import create_app
from service.config import Limits, Settings
from service.domain.study import STUDY_NAME

OFFLINE = "redis://127.0.0.1:1/0"  # building the app and its document does not touch Redis
TOKENS = parse_tokens('[{"name": "a", "token": "openapi-test-secret-0123456789", "scopes": ["admin"]}]')
CAMEL_CASE = re.compile(r"^[a-z]+(?:[A-Z][a-z]+)*$")
# The only places any JSON is the real type: what users store and what errors attach.
FREE_FORM = {("Study", "metadata"), ("StudyBody", "metadata"), ("ErrorBody", "details")}
# A typed `name` beside options whose shape depends on that name (each sampler checks its own).
NAMED_OPTIONS = {("Study", "sampler"), ("Study", "pruner")}


def document(settings: Settings) -> dict[str, Any]:
    answer = create_app({"settings": settings}).test_client().get("/openapi.json")
    assert answer.status_code == 200
    spec: dict[str, Any] = answer.get_json()
    return spec


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield method, path, operation


@pytest.fixture(scope="module", params=["open", "tokens"])
def spec(request: pytest.FixtureRequest) -> dict[str, Any]:
    return document(Settings(redis_url=OFFLINE, tokens=TOKENS if request.param == "tokens" else ()))


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    validate(spec)  # raises on the first error, naming where it is


def test_every_operation_has_a_stable_camel_case_id_and_a_summary(spec: dict[str, Any]) -> None:
    ids = [operation.get("operationId", "") for _, _, operation in operations(spec)]
    assert all(CAMEL_CASE.match(i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    assert {"createStudy", "askTrials", "tellTrial", "getTrial", "getBestTrial", "listTrials"} <= set(ids)
    assert all(operation.get("summary") for _, _, operation in operations(spec))


def test_every_error_status_uses_the_error_shape(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        assert "default" not in operation["responses"], (method, path)  # each status is listed instead
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                continue
            if status == "414":  # gunicorn's own answer, before the app
                assert list(response["content"]) == ["text/html"]
                continue
            name = response["$ref"].rsplit("/", 1)[-1]
            schema = spec["components"]["responses"][name]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)


def test_token_scopes_and_idempotency_keys_are_declared(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    idempotent = set()
    for method, path, operation in operations(spec):
        public = path in ("/healthz", "/readyz")
        assert public == (operation.get("security") == []), (method, path)
        if not public:
            assert re.search(r"Needs a token with the (read|write|admin) scope", operation["description"])
            assert {"401", "403", "503"} <= set(operation["responses"])
        headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
        if headers:
            assert headers[0]["name"] == "Idempotency-Key" and headers[0]["schema"]["maxLength"] == 255
            idempotent.add(operation["operationId"])
    assert idempotent == {
        "createStudy",
        "deleteStudy",
        "askTrials",
        "tellTrial",
        "heartbeatTrial",
        "reportTrial",
        "enqueueConfigurations",
    }


def test_security_is_required_only_where_tokens_are_configured() -> None:
    assert "security" not in document(Settings(redis_url=OFFLINE))
    assert document(Settings(redis_url=OFFLINE, tokens=TOKENS))["security"] == [{"bearer": []}]


def test_every_field_has_a_type(spec: dict[str, Any]) -> None:
    def untyped(schema: dict[str, Any]) -> bool:
        return not ({"type", "$ref", "anyOf", "oneOf", "allOf", "enum"} & set(schema))

    for name, schema in spec["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            if (name, field) in FREE_FORM:
                continue
            assert not untyped(prop), (name, field, prop)
            if (name, field) in NAMED_OPTIONS:
                assert prop["properties"]["name"] == {"type": "string"}
                continue
            for nested in (prop.get("items"), prop.get("additionalProperties")):
                if isinstance(nested, dict):
                    assert not untyped(nested), (name, field, prop)
    best = spec["components"]["schemas"]["Study"]["properties"]["best"]
    assert best["anyOf"] == [{"$ref": "#/components/schemas/Trial"}, {"type": "null"}]


def test_csv_is_declared_as_text_csv(spec: dict[str, Any]) -> None:
    content = spec["paths"]["/v1/studies/{name}/trials"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/csv"}


def test_limits_come_from_the_settings_the_server_enforces() -> None:
    limits = replace(Limits(), max_page_size=7, max_ask_count=3, max_params=5, max_choices=4, max_enqueue_count=6)
    spec = document(Settings(redis_url=OFFLINE, limits=limits))
    schemas, paths = spec["components"]["schemas"], spec["paths"]
    query = {p["name"]: p["schema"] for p in paths["/v1/studies/{name}/trials"]["get"]["parameters"]}
    assert query["limit"]["maximum"] == 7
    assert schemas["AskBody"]["properties"]["count"]["maximum"] == 3
    assert schemas["StudyBody"]["properties"]["space"]["maxItems"] == 5
    assert schemas["Param"]["properties"]["choices"]["maxItems"] == 4
    assert schemas["EnqueueBody"]["properties"]["configurations"]["maxItems"] == 6
    name = paths["/v1/studies/{name}"]["parameters"][0]
    assert name["name"] == "name" and name["schema"]["pattern"] == STUDY_NAME.pattern


def test_a_405_says_which_methods_are_allowed() -> None:
    api = create_app({"settings": Settings(redis_url=OFFLINE)}).test_client()
    answer = api.patch("/v1/studies/x")
    assert answer.status_code == 405 and answer.get_json()["error"]["code"] == "method_not_allowed"
    assert {"GET", "PUT", "DELETE"} <= {m.strip() for m in answer.headers["Allow"].split(",")}
