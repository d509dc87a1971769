"""`@operation("tellTrial", Scope.WRITE, errors=...)` on a view: its token check and its OpenAPI entry.

The decorator states once which scope an operation needs (it checks the token, and the document
says so) and adds what the schemas cannot tell a generated client: a stable operationId, every
error status the operation can answer (each with the one error shape), and the Idempotency-Key
header it honours.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from ..access import Scope
from ..domain.study import STUDY_NAME
from .auth import requires
from .context import MAX_IDEMPOTENCY_KEY

# Statuses every operation behind a token can answer, whatever it does.
TOKEN_ERRORS = (401, 403)  # only when the deployment has tokens; the document states both modes
STORAGE_ERRORS = (503,)  # Redis unreachable or failing over
BODY_ERRORS = (400, 413, 415, 422)  # not JSON; over the size limit; not sent as JSON; not the documented shape

# gunicorn answers this itself, before the app and so without the JSON error shape.
REQUEST_LINE_TOO_LONG = {
    "description": "The request line (method, path and query) is over gunicorn's limit_request_line.",
    "schema": {"type": "string"},
    "content_type": "text/html",
}

SCOPE_TEXT = {
    Scope.READ: "Needs a token with the read scope (write and admin include it).",
    Scope.WRITE: "Needs a token with the write scope (admin includes it).",
    Scope.ADMIN: "Needs a token with the admin scope.",
}

BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API token from HONE_TOKENS, as `Authorization: Bearer <token>`. Scopes nest: read < write "
    "< admin; each operation says which it needs. A service started without tokens is open and needs none.",
}

STUDY_NAME_PARAMETER = {
    "in": "path",
    "name": "name",
    "required": True,
    "description": "The study's name.",
    "schema": {"type": "string", "pattern": STUDY_NAME.pattern},
}

IDEMPOTENCY_KEY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Any unique string per logical request: a retry with the same key gets the first answer "
    "again instead of acting twice (409 request_in_progress while the first is still running).",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
}


def link(operation_id: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link to `operation_id`, each parameter a runtime expression ($request..., $response...)."""
    return {"operationId": operation_id, "parameters": parameters}


SAME_STUDY = "$request.path.name"


def operation(
    operation_id: str,
    scope: Scope | None,
    *,
    errors: Iterable[int] = (),
    body: bool = False,
    idempotency_key: bool = False,
    links: Mapping[int, Mapping[str, Any]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Check the token for `scope` (None: a public probe) and document the operation.

    `body`: the operation reads a JSON body. `links` are OpenAPI links by success status: what a
    client (or a stateful fuzzer) may call next.

    The entry is written into flask-smorest's `_apidoc`, as its own decorators do, without adding
    a wrapper per status: ask and tell are hot paths.
    """
    statuses = sorted(
        {*errors, *(BODY_ERRORS if body else ()), *(() if scope is None else (*TOKEN_ERRORS, *STORAGE_ERRORS))}
    )
    doc: dict[str, Any] = {"operationId": operation_id}
    if idempotency_key:
        doc["parameters"] = [IDEMPOTENCY_KEY_HEADER]
    if links:
        doc["responses"] = {status: {"links": dict(by_name)} for status, by_name in links.items()}

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        apidoc = view.__dict__.setdefault("_apidoc", {})
        responses = apidoc.setdefault("response", {}).setdefault("responses", {})
        for status in statuses:
            responses.setdefault(status, []).append(HTTPStatus(status).name)  # the error shape, by reference
        responses.setdefault(414, []).append(REQUEST_LINE_TOO_LONG)
        manual = dict(doc)
        if scope is None:
            manual["security"] = []
        else:
            _, _, details = inspect.cleandoc(view.__doc__ or "").partition("\n")
            manual["description"] = " ".join(part for part in (details.strip(), SCOPE_TEXT[scope]) if part)
        apidoc["manual_doc"] = {**apidoc.get("manual_doc", {}), **manual}
        return view if scope is None else requires(scope)(view)

    return decorate
