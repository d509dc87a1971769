"""The one table from domain errors to HTTP statuses, and the one JSON error shape:
`{"error": {"code": ..., "message": ..., "details": ...}}`."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from flask.wrappers import Response
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ..domain.errors import (
    Conflict,
    Forbidden,
    HoneError,
    InvalidInput,
    LimitExceeded,
    NotFound,
    StorageUnavailable,
    Unauthenticated,
)

log = logging.getLogger(__name__)

STATUS_BY_ERROR: list[tuple[type[HoneError], int]] = [
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (LimitExceeded, 422),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (StorageUnavailable, 503),
]

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}


def error_response(status: int, code: str, message: str, details: Any = None) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message, "details": details}}), status


def status_of(error: HoneError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 500


def _message_from_validation(messages: Any) -> str:
    """A one-line summary of webargs/marshmallow messages: `space.0.low: Not a valid number.`"""
    parts: list[str] = []

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), child)
        elif isinstance(node, list) and all(isinstance(x, str) for x in node):
            parts.append(f"{prefix}: {' '.join(node)}" if prefix else " ".join(node))
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(f"{prefix}.{i}", child)
        else:
            parts.append(f"{prefix}: {node}")

    walk("", messages)
    return "; ".join(parts[:5]) or "invalid request"


def handle_http_exception(error: HTTPException) -> tuple[Response, int]:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if messages is not None:
        # webargs puts messages under the request location: {"json": {...}}; drop that level.
        if isinstance(messages, dict) and len(messages) == 1 and next(iter(messages)) in ("json", "query"):
            messages = next(iter(messages.values()))
        return error_response(status, "invalid_input", _message_from_validation(messages), messages)
    code = data.get("code") or HTTP_CODES.get(status, "http_error")
    message = data.get("message") or error.description or error.name
    if status == 413:
        message = "the request body is over the size limit"
    if status >= 500:
        log.error("HTTP %s: %s", status, message)
    response, status = error_response(status, code, message)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)  # RFC 9110 asks 405 to say what is allowed
    return response, status


def handle_hone_error(error: HoneError) -> tuple[Response, int] | Response:
    status = status_of(error)
    if status >= 500:
        log.warning("%s: %s", error.code, error.message)
    response, status = error_response(status, error.code, error.message, error.details)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="hone"'
    return response, status


def handle_unexpected(error: Exception) -> tuple[Response, int]:
    log.exception("unhandled error")
    return error_response(500, "internal_error", "the server failed to handle this request; it has been logged")


def register(app: Flask) -> None:
    app.register_error_handler(HoneError, handle_hone_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
