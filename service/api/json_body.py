"""The one edge where a request body becomes Python values.

Every operation that takes a body reads it through the `Blueprint` below, so before any schema or
use case sees it a body is refused when it
- is not declared JSON by its Content-Type (415: never ignored in favour of defaults);
- is over the size limit, with a Content-Length or chunked (413);
- is not UTF-8 JSON or holds text with a lone surrogate (400, invalid_json);
- nests deeper than MAX_JSON_DEPTH (422, json_too_deep) or holds a number beyond what a JSON client
  holds exactly: an integer beyond +-MAX_EXACT_INT, NaN, an infinity, a float that overflows
  (422, number_out_of_range).
"""

from __future__ import annotations

import json
import math
from typing import Any

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from ..domain.limits import MAX_EXACT_INT, MAX_JSON_DEPTH

# Longest integer literal that can be within MAX_EXACT_INT: a sign and its digits. Checked before
# int() runs, so a 5,000-digit literal costs nothing.
_MAX_INT_LITERAL = len(str(-MAX_EXACT_INT))


class InvalidBody(BadRequest):
    """A body this API refuses; `data["code"]` says why, for the one error shape. 400 when it is not
    JSON, 422 when it is JSON beyond this API's limits."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = status
        self.data = {"code": code, "message": message}


def _too_deep() -> InvalidBody:
    return InvalidBody("json_too_deep", f"the body nests more than {MAX_JSON_DEPTH} levels deep", 422)


def _out_of_range(literal: str) -> InvalidBody:
    shown = literal if len(literal) <= 40 else f"{literal[:20]}...({len(literal)} characters)"
    return InvalidBody(
        "number_out_of_range",
        f"the number {shown} is out of range: integers must be within +-2**53, other numbers finite",
        422,
    )


def _parse_int(literal: str) -> int:
    if len(literal) > _MAX_INT_LITERAL or abs(value := int(literal)) > MAX_EXACT_INT:
        raise _out_of_range(literal)
    return value


def _parse_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):  # 1e999
        raise _out_of_range(literal)
    return value


def _parse_constant(literal: str) -> Any:
    raise _out_of_range(literal)  # NaN, Infinity, -Infinity


def _check_tree(value: Any) -> None:
    """Nesting and text, walked without recursion so the walk itself cannot overflow."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            try:
                node.encode()
            except UnicodeEncodeError:
                raise InvalidBody("invalid_json", "text holds a lone surrogate escape (\\ud800-\\udfff)") from None
            continue
        if isinstance(node, dict):
            children = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth == MAX_JSON_DEPTH:
            raise _too_deep()
        stack.extend((child, depth + 1) for child in children)


def parse_json(data: bytes) -> Any:
    """A JSON document within this API's limits; raises InvalidBody otherwise."""
    try:
        value = json.loads(
            data.decode(), parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
        )
    except UnicodeDecodeError:
        raise InvalidBody("invalid_json", "the body is not UTF-8") from None
    except json.JSONDecodeError as error:
        raise InvalidBody("invalid_json", f"the body is not valid JSON: {error}") from None
    except RecursionError:
        # The parser gave up at the interpreter's recursion limit, far deeper than ours.
        raise _too_deep() from None
    # The walk is needed only when the text could hold a lone surrogate (an escape) or nest past
    # the limit (more brackets than levels): not for the small bodies of ask and tell.
    if b"\\u" in data or data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH:
        _check_tree(value)
    return value


def request_json(request: flask.Request) -> Any:
    """The request's body as JSON, or `missing` when there is none (the schema's defaults apply)."""
    data = request.get_data(cache=True)  # a Content-Length over MAX_CONTENT_LENGTH: 413
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        # A chunked body is cut off at the limit without a word: what was cut is the 413.
        raise RequestEntityTooLarge()
    if not data:
        return core.missing
    if not is_json_request(request):
        raise UnsupportedMediaType(
            f"the body must be JSON, sent with Content-Type: application/json (got {request.mimetype or 'none'})"
        )
    return parse_json(data)


class _Parser(FlaskParser):
    def _raw_load_json(self, req: flask.Request) -> Any:
        return request_json(req)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint whose `arguments` read JSON bodies through `request_json`. The
    errors that reading can answer are documented by `docs.operation(body=True)`."""

    ARGUMENTS_PARSER = _Parser()
