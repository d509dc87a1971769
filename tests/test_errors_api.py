"""Bad input and a missing Redis: always the one JSON error shape, never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.app import create_app
from service.config import Settings

from .servers import start_redis
from .test_studies_api import BODY, assert_error, put


def test_malformed_json_is_400(api: Any) -> None:
    response = api.put("/v1/studies/s", data='{"space": [', content_type="application/json")
    assert_error(response, 400)


def test_a_body_that_is_not_an_object_is_422(api: Any) -> None:
    for data in ("[1, 2]", '"text"', "42", "null"):
        response = api.put("/v1/studies/s", data=data, content_type="application/json")
        assert response.status_code in (400, 422), data
        assert "error" in response.get_json()


def test_bodies_over_one_mebibyte_are_413(api: Any) -> None:
    huge = '{"space": [], "metadata": {"x": "' + "y" * (1 << 20) + '"}}'
    assert_error(api.put("/v1/studies/s", data=huge, content_type="application/json"), 413, "body_too_large")


def test_unknown_routes_and_methods_use_the_error_shape(api: Any) -> None:
    assert_error(api.get("/v1/nothing"), 404, "not_found")
    assert_error(api.post("/v1/studies"), 405, "method_not_allowed")


def test_unicode_in_names_params_and_metadata(api: Any) -> None:
    assert_error(put(api, "ünïcode", BODY), 422, "invalid_name")
    body = {
        **BODY,
        "metadata": {"note": "日本語 ✓"},
        "space": [{"name": "c", "type": "categorical", "choices": ["α", "β"]}],
    }
    created = put(api, "u", body).get_json()
    assert created["metadata"] == {"note": "日本語 ✓"}
    trial = api.post("/v1/studies/u/trials/ask", json={}).get_json()["trials"][0]
    assert trial["params"]["c"] in ("α", "β")


def test_openapi_and_docs_are_served(api: Any) -> None:
    spec = api.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/v1/studies/{name}/trials/ask" in spec["paths"]
    assert "Error" in spec["components"]["schemas"]
    docs = api.get("/docs")
    assert docs.status_code == 200 and b"swagger" in docs.data.lower()
    assert api.get("/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_redis_going_away_gives_503_and_the_service_recovers(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    try:
        api = create_app({"settings": Settings(redis_url=server.url)}).test_client()
        assert put(api, "s", BODY).status_code == 201
        assert api.get("/readyz").status_code == 200
        server.stop()

        assert_error(api.get("/readyz"), 503, "storage_unavailable")
        assert_error(api.get("/v1/studies/s"), 503, "storage_unavailable")
        assert_error(api.post("/v1/studies/s/trials/ask", json={}), 503, "storage_unavailable")
        assert api.get("/healthz").status_code == 200

        server.start()
        assert api.get("/readyz").status_code == 200
        assert api.get("/v1/studies/s").get_json()["name"] == "s"
        assert api.post("/v1/studies/s/trials/ask", json={}).status_code == 200
    finally:
        server.stop()
