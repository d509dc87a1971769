"""The body parser's limits, against a plain recursive reference: the parser skips its tree walk
for bodies that cannot break a limit, and must refuse exactly what the walk would."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.api.json_body import InvalidBody, parse_json
from service.domain.limits import MAX_JSON_DEPTH

# Text with lone surrogates among ordinary characters; json.dumps writes them as \ud8xx escapes.
TEXT = st.text(alphabet=st.sampled_from(["a", "[", "{", "é", "\ud800", "\udfff", "\U0001f600"]), max_size=4)
LEAVES = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)


def nested(depth: int) -> st.SearchStrategy[Any]:
    """Values around the depth limit: chains of lists and objects with leaves and text."""
    return st.recursive(
        LEAVES | TEXT,
        lambda inner: st.lists(inner, max_size=2) | st.dictionaries(TEXT, inner, max_size=2),
        max_leaves=depth + 4,
    )


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in [*value.keys(), *value.values()]), default=0)
    return 0


def has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return any(has_lone_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(has_lone_surrogate(v) for v in [*value.keys(), *value.values()])
    return False


def wrapped(value: Any, levels: int) -> Any:
    for _ in range(levels):
        value = [value]
    return value


@settings(max_examples=400, deadline=None)
@given(nested(8), st.integers(0, MAX_JSON_DEPTH + 2), st.booleans())
def test_refuses_exactly_what_the_reference_refuses(value: Any, levels: int, ascii_only: bool) -> None:
    document = wrapped(value, levels)
    # ensure_ascii=False writes what it can as UTF-8 and a lone surrogate still as an escape.
    text = json.dumps(document, ensure_ascii=ascii_only)
    try:
        data = text.encode()
    except UnicodeEncodeError:
        data = json.dumps(document).encode()
    reference = json.loads(data)  # escapes of a surrogate pair decode to one character: not lone
    too_deep = depth(reference) > MAX_JSON_DEPTH
    surrogate = has_lone_surrogate(reference)
    try:
        parsed = parse_json(data)
    except InvalidBody as refused:
        assert refused.data["code"] in {"json_too_deep", "invalid_json"}
        assert (too_deep and refused.data["code"] == "json_too_deep") or (
            surrogate and refused.data["code"] == "invalid_json"
        )
    else:
        assert not too_deep and not surrogate
        assert json.dumps(parsed) == json.dumps(reference)
