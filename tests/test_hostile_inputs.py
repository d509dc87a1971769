"""A hostile client, over HTTP on real gunicorn and Redis: every bad input is a clear 4xx in the one
error shape, never a 500, and changes nothing stored."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service.domain.limits import MAX_EXACT_INT, MAX_JSON_DEPTH, MAX_STEP

from .servers import Gunicorn
from .test_metrics import samples

MAX_REQUEST_BYTES = 64 << 10
SPACE = [
    {"name": "x", "type": "float", "low": 0, "high": 1},
    {"name": "c", "type": "categorical", "choices": ["a", "b"]},
]


@pytest.fixture(scope="module")
def server(redis_url: str) -> Iterator[Gunicorn]:
    env = {"REDIS_URL": redis_url, "HONE_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES)}
    with Gunicorn(env, workers=1) as running:
        yield running


@pytest.fixture
def http(server: Gunicorn, redis_client: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture
def study(http: httpx.Client) -> dict[str, Any]:
    """A study "s" with one complete trial, one running trial and one curve point."""
    assert http.put("/v1/studies/s", json={"space": SPACE}).status_code == 201
    done, running = http.post("/v1/studies/s/trials/ask", json={"count": 2}).json()["trials"]
    assert http.post(f"/v1/studies/s/trials/{running['id']}/report", json={"step": 1, "value": 0.5}).is_success
    assert http.post(f"/v1/studies/s/trials/{done['id']}/tell", json={"state": "complete", "value": 1}).is_success
    return {"done": done["number"], "running": running["number"], "running_id": running["id"]}


def stored(redis_client: Any) -> dict[str, Any]:
    """Every key and its serialized value: equal snapshots mean nothing was written."""
    return {key: redis_client.dump(key) for key in sorted(redis_client.scan_iter())}


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


# Every operation that takes a body, with a body it accepts (given the `study` fixture).
OPERATIONS = [
    ("PUT", "/v1/studies/t", {"space": SPACE}),
    ("POST", "/v1/studies/s/trials/ask", {"count": 5}),
    ("POST", "/v1/studies/s/trials/{running_id}/tell", {"state": "complete", "value": 0.25}),
    ("POST", "/v1/studies/s/trials/{running_id}/heartbeat", {"lease_seconds": 60}),
    ("POST", "/v1/studies/s/trials/{running_id}/report", {"step": 2, "value": 0.25}),
    ("POST", "/v1/studies/s/enqueue", {"configurations": [{"x": 0.5, "c": "a"}]}),
    ("PUT", "/v1/studies/s/note", {"note": "hello"}),
    ("PUT", "/v1/studies/s/trials/{running}/note", {"note": "hello"}),
    ("POST", "/v1/studies/s/regions", {"param": "x", "low": 0.1, "high": 0.9}),
]


def send(http: httpx.Client, study: dict[str, Any], operation: Any, content: bytes | str, **headers: str) -> Any:
    method, path, _ = operation
    return http.request(method, path.format(**study), content=content, headers=headers)


def operation_id(operation: Any) -> str:
    return f"{operation[0]} {operation[1]}"


@pytest.mark.parametrize("operation", OPERATIONS, ids=operation_id)
def test_every_operation_accepts_its_json_body(http: httpx.Client, study: dict[str, Any], operation: Any) -> None:
    method, path, body = operation
    response = http.request(method, path.format(**study), json=body)
    assert response.is_success, response.text


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.edge
@pytest.mark.parametrize("operation", OPERATIONS, ids=operation_id)
@pytest.mark.parametrize("body", [nested(MAX_JSON_DEPTH + 1), "[" * 20_000 + "]" * 20_000], ids=["33", "20000"])
def test_json_nested_too_deep_is_422_everywhere(
    http: httpx.Client, redis_client: Any, study: dict[str, Any], operation: Any, body: str
) -> None:
    before = stored(redis_client)
    assert_error(send(http, study, operation, body, **{"Content-Type": "application/json"}), 422, "json_too_deep")
    assert stored(redis_client) == before


def test_nesting_up_to_the_limit_is_fine(http: httpx.Client) -> None:
    deep: Any = 1
    for _ in range(MAX_JSON_DEPTH - 2):  # under the body object and its metadata
        deep = {"a": deep}
    assert http.put("/v1/studies/t", json={"space": SPACE, "metadata": {"m": deep}}).status_code == 201
    too_deep = http.put("/v1/studies/u", json={"space": SPACE, "metadata": {"m": {"a": deep}}})
    assert_error(too_deep, 422, "json_too_deep")


@pytest.mark.edge
@pytest.mark.parametrize(
    "literal",
    ["1" * 5000, "-" + "9" * 5000, str(MAX_EXACT_INT + 1), str(-MAX_EXACT_INT - 1), "1e999", "-1e400", "NaN"],
    ids=["5000-digits", "-5000-digits", "2**53+1", "-2**53-1", "1e999", "-1e400", "NaN"],
)
@pytest.mark.parametrize(
    "template",
    [
        '{"count": %s}',
        '{"state": "complete", "value": %s}',
        '{"space": [{"name": "n", "type": "int", "low": 0, "high": %s}]}',
        '{"space": [{"name": "c", "type": "categorical", "choices": [1, %s]}]}',
        '{"space": [{"name": "x", "type": "float", "low": 0, "high": 1}], "metadata": {"m": [%s]}}',
        '{"configurations": [{"x": %s, "c": "a"}]}',
    ],
    ids=["ask", "tell", "int-param", "choice", "metadata", "enqueue"],
)
def test_numbers_no_json_client_holds_exactly_are_422(
    http: httpx.Client, redis_client: Any, study: dict[str, Any], literal: str, template: str
) -> None:
    paths = {
        "count": "POST /v1/studies/s/trials/ask",
        "state": "POST /v1/studies/s/trials/{running_id}/tell",
        "space": "PUT /v1/studies/t",
        "configurations": "POST /v1/studies/s/enqueue",
    }
    method, path = next(v for k, v in paths.items() if f'"{k}"' in template).split()
    before = stored(redis_client)
    response = http.request(
        method, path.format(**study), content=template % literal, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 422, "number_out_of_range")
    assert stored(redis_client) == before


def test_integers_up_to_2_53_are_exact(http: httpx.Client, study: dict[str, Any]) -> None:
    space = [{"name": "n", "type": "int", "low": -MAX_EXACT_INT, "high": MAX_EXACT_INT}]
    created = http.put("/v1/studies/big", json={"space": space, "metadata": {"id": MAX_EXACT_INT}})
    assert created.status_code == 201, created.text
    assert created.json()["space"][0]["high"] == MAX_EXACT_INT and created.json()["metadata"]["id"] == MAX_EXACT_INT
    tell = f"/v1/studies/s/trials/{study['running_id']}/tell"
    assert http.post(tell, json={"state": "complete", "value": -MAX_EXACT_INT}).json()["value"] == -MAX_EXACT_INT


def test_an_int_param_given_float_bounds_beyond_2_53_is_422(http: httpx.Client, redis_client: Any) -> None:
    before = stored(redis_client)
    space = [{"name": "n", "type": "int", "low": 0, "high": 1e20}]
    error = assert_error(http.put("/v1/studies/t", json={"space": space}), 422, "invalid_space")
    assert error["details"]["rule"] == "exact_int"
    assert stored(redis_client) == before


@pytest.mark.edge
@pytest.mark.parametrize(
    "body",
    ['{"note": "\\ud800"}', b'{"note": "\xff"}', '{"count": ', "{'count': 1}"],
    ids=["lone-surrogate", "not-utf8", "truncated", "single-quotes"],
)
def test_what_is_not_json_is_400(http: httpx.Client, redis_client: Any, study: dict[str, Any], body: Any) -> None:
    before = stored(redis_client)
    path = "/v1/studies/s/trials/ask" if "count" in str(body) else f"/v1/studies/s/trials/{study['running']}/note"
    method = "POST" if "count" in str(body) else "PUT"
    response = http.request(method, path, content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_json")
    assert stored(redis_client) == before


@pytest.mark.edge
@pytest.mark.parametrize("operation", OPERATIONS, ids=operation_id)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_declared_json_is_415(
    http: httpx.Client, redis_client: Any, study: dict[str, Any], operation: Any, content_type: str | None
) -> None:
    before = stored(redis_client)
    headers = {"Content-Type": content_type} if content_type else {}
    response = send(http, study, operation, httpx.Request("GET", "/", json=operation[2]).content, **headers)
    assert_error(response, 415, "unsupported_media_type")
    assert stored(redis_client) == before


def test_an_empty_body_still_means_the_defaults(http: httpx.Client, study: dict[str, Any]) -> None:
    assert len(http.post("/v1/studies/s/trials/ask").json()["trials"]) == 1
    assert len(http.post("/v1/studies/s/trials/ask", headers={"Content-Type": "text/plain"}).json()["trials"]) == 1


@pytest.mark.edge
def test_a_chunked_body_over_the_limit_is_413(http: httpx.Client, redis_client: Any) -> None:
    before = stored(redis_client)

    def chunks() -> Iterator[bytes]:
        yield b'{"space": [], "metadata": {"m": "'
        for _ in range(2 * MAX_REQUEST_BYTES // 1024):
            yield b"y" * 1024
        yield b'"}}'

    response = http.put("/v1/studies/t", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(response, 413, "body_too_large")
    assert stored(redis_client) == before


def test_a_chunked_body_within_the_limit_is_read(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"space": [{"name": "x", "type": "float",'
        yield b' "low": 0, "high": 1}]}'

    response = http.put("/v1/studies/t", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text


def test_a_step_beyond_the_limit_is_422_and_curves_still_read(
    http: httpx.Client, redis_client: Any, study: dict[str, Any]
) -> None:
    report = f"/v1/studies/s/trials/{study['running_id']}/report"
    before = stored(redis_client)
    for step in (MAX_STEP + 1, 10**14, -1):
        assert_error(http.post(report, json={"step": step, "value": 0.5}), 422, "invalid_input")
    assert stored(redis_client) == before
    assert http.post(report, json={"step": MAX_STEP, "value": 0.75}).is_success
    curves = http.get("/v1/studies/s/curves", params={"numbers": f"{study['running']},{study['done']}"})
    assert curves.status_code == 200, curves.text
    assert curves.json()["curves"][0]["points"] == [[1, 0.5], [MAX_STEP, 0.75]]


@pytest.mark.edge
@pytest.mark.parametrize("cursor", ["nan~1", "inf~1", "-inf~0", "x~1", "1~x", "1", "~", "1e999~1"])
def test_a_bad_value_cursor_is_422(http: httpx.Client, study: dict[str, Any], cursor: str) -> None:
    response = http.get("/v1/studies/s/trials", params={"order": "value", "cursor": cursor})
    assert_error(response, 422, "invalid_cursor")


def test_a_value_cursor_given_back_pages_on(http: httpx.Client, study: dict[str, Any]) -> None:
    for trial in http.post("/v1/studies/s/trials/ask", json={"count": 3}).json()["trials"]:
        http.post(f"/v1/studies/s/trials/{trial['id']}/tell", json={"state": "complete", "value": -0.5})
    first = http.get("/v1/studies/s/trials", params={"order": "value", "limit": 2}).json()
    second = http.get("/v1/studies/s/trials", params={"order": "value", "limit": 2, "cursor": first["next_cursor"]})
    numbers = [t["number"] for t in first["trials"] + second.json()["trials"]]
    assert len(numbers) == len(set(numbers)) == 4


ADMIN = "admin-secret-0123456789"
VISION = "vision-secret-0123456789"
TOKENS = [
    {"name": "admin", "token": ADMIN, "scopes": ["admin"]},
    {"name": "vision", "token": VISION, "scopes": ["read"], "prefixes": ["vision-", "vision-x-", "zz-"]},
]


@pytest.fixture(scope="module")
def guarded(redis_url: str) -> Iterator[Gunicorn]:
    with Gunicorn({"REDIS_URL": redis_url, "HONE_TOKENS": json.dumps(TOKENS)}, workers=1) as running:
        yield running


def test_a_listing_cursor_reveals_no_study_outside_the_callers_prefixes(guarded: Gunicorn, redis_client: Any) -> None:
    names = ["other-a", "other-b", "vision-a", "other-c", "vision-b", "vision-x-1", "w", "zz-1", "zz"]
    with httpx.Client(base_url=guarded.url, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
        for name in names:
            assert admin.put(f"/v1/studies/{name}", json={"space": SPACE}).status_code == 201
    seen, cursors = [], []
    with httpx.Client(base_url=guarded.url, headers={"Authorization": f"Bearer {VISION}"}) as vision:
        for start in ("other-a", None):
            cursor = start
            while True:
                params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
                page = vision.get("/v1/studies", params=params).json()
                seen += [s["name"] for s in page["studies"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
                cursors.append(cursor)
    visible = ["vision-a", "vision-b", "vision-x-1", "zz-1"]
    assert seen == visible + visible
    assert all(cursor in visible for cursor in cursors)


FORMULAS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1"]


def test_csv_neutralises_text_that_a_spreadsheet_would_run(http: httpx.Client) -> None:
    space = [
        {"name": "-x", "type": "float", "low": -1, "high": 0},
        {"name": "c", "type": "categorical", "choices": [*FORMULAS, "plain", -0.5]},
    ]
    assert http.put("/v1/studies/f", json={"space": space}).status_code == 201
    configurations = [{"-x": -0.25, "c": choice} for choice in [*FORMULAS, -0.5]]
    assert http.post("/v1/studies/f/enqueue", json={"configurations": configurations}).is_success
    asked = http.post("/v1/studies/f/trials/ask", json={"count": 7, "worker": "=w"}).json()["trials"]
    for i, trial in enumerate(asked):
        assert http.put(f"/v1/studies/f/trials/{trial['number']}/note", json={"note": FORMULAS[i % 6]}).is_success
        tell = {"state": "failed", "error": "@err"} if i == 0 else {"state": "complete", "value": -0.5}
        assert http.post(f"/v1/studies/f/trials/{trial['id']}/tell", json=tell).is_success
    rows = list(csv.DictReader(io.StringIO(http.get("/v1/studies/f/trials", params={"format": "csv"}).text)))
    assert "'-x" in rows[0] and "-x" not in rows[0]
    assert [row["c"] for row in rows] == [*(f"'{f}" for f in FORMULAS), "-0.5"]
    assert [row["note"] for row in rows] == [f"'{f}" for f in FORMULAS] + ["'=1+1"]
    assert {row["worker"] for row in rows} == {"'=w"}
    assert rows[0]["error"] == "'@err" and rows[0]["value"] == ""
    assert {row["value"] for row in rows[1:]} == {"-0.5"} and {row["'-x"] for row in rows} == {"-0.25"}


def test_metrics_cover_every_study_and_label_a_bounded_set(redis_url: str, redis_client: Any) -> None:
    env = {"REDIS_URL": redis_url, "HONE_MAX_METRIC_STUDIES": "3", "HONE_TOKENS": json.dumps(TOKENS)}
    running = {"a": 0, "b": 4, "vision-c": 1, "d": 2, "vision-e": 3, "f": 0}
    with Gunicorn(env, workers=1) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        for name, count in running.items():
            assert http.put(f"/v1/studies/{name}", json={"space": SPACE}, headers=admin).status_code == 201
            if count:
                assert http.post(f"/v1/studies/{name}/trials/ask", json={"count": count}, headers=admin).is_success
        (done,) = http.post("/v1/studies/a/trials/ask", json={}, headers=admin).json()["trials"]
        http.post(f"/v1/studies/a/trials/{done['id']}/tell", json={"state": "complete", "value": 1}, headers=admin)
        every = http.get("/metrics", headers=admin).text
        vision = http.get("/metrics", headers={"Authorization": f"Bearer {VISION}"}).text

    def labelled(text: str) -> dict[str, float]:
        return {
            dict(labels)["study"]: v
            for (name, labels), v in samples(text).items()
            if name == "hone_study_trials" and dict(labels)["state"] == "running"
        }

    assert labelled(every) == {"b": 4, "vision-e": 3, "d": 2}
    assert samples(every)[("hone_trials", (("state", "running"),))] == sum(running.values())
    assert samples(every)[("hone_trials", (("state", "complete"),))] == 1
    assert samples(every)[("hone_studies", ())] == len(running)
    assert labelled(vision) == {"vision-e": 3, "vision-c": 1}
    assert samples(vision)[("hone_trials", (("state", "running"),))] == 4
    assert samples(vision)[("hone_studies", ())] == 2


def open_sockets(server: Gunicorn, count: int, send: bytes) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        # On loopback the kernel completes the connection at once: the listen backlog holds it.
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=40)
        sock.sendall(send)
        sockets.append(sock)
    return sockets


def served_within(url: str, deadline: float) -> bool:
    """A new client's request is answered before the deadline (seconds; generous, not a timing)."""
    try:
        return httpx.get(f"{url}/healthz", timeout=deadline).status_code == 200
    except httpx.TimeoutException:
        return False


@pytest.mark.edge
@pytest.mark.parametrize(
    "send", [b"", b"GET /healthz HTTP/1.1\r\nHost: hone\r\n\r\n"], ids=["send-nothing", "one-request-then-quiet"]
)
def test_quiet_sockets_do_not_starve_new_clients(redis_url: str, send: bytes) -> None:
    # More quiet sockets than the worker has connection slots (the default 1000), as in the report;
    # a short header timeout so the test need not wait the default 10 s.
    with Gunicorn({"REDIS_URL": redis_url, "HONE_HEADER_TIMEOUT": "1"}, workers=1) as server:
        quiet = open_sockets(server, 1100, send)
        try:
            assert served_within(server.url, 40)
        finally:
            for sock in quiet:
                sock.close()


@pytest.mark.edge
def test_the_openapi_document_names_the_errors_of_reading_a_body(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    for method, path, _ in OPERATIONS:
        template = (
            re.sub(r"^/v1/studies/[st]\b", "/v1/studies/{name}", path)
            .replace("{running_id}", "{trial_id}")
            .replace("{running}", "{number}")
        )
        responses = document["paths"][template][method.lower()]["responses"]
        assert {"400", "413", "415"} <= set(responses), (method, template)
        unsupported = responses["415"]
        if "$ref" in unsupported:  # a shared response under components, named after the status
            unsupported = document["components"]["responses"][unsupported["$ref"].rpartition("/")[2]]
        assert unsupported["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
