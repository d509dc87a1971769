"""A marshmallow schema compiled into a plain function, for the hot paths (ask, tell, heartbeat).

marshmallow's dump walks its field machinery per value and costs as much as a Redis call. The
schema stays the one definition of the wire format and of the OpenAPI document; this module reads
its fields once and builds a function that gives the same dict (tests/test_fast_dump.py holds
the two to each other).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from marshmallow import fields


def _converter(field: fields.Field[Any]) -> Callable[[Any], Any]:
    # Timestamp is checked first: it subclasses String but formats its value.
    serialize = field._serialize
    if type(field).__name__ == "Timestamp":
        return lambda value: serialize(value, None, None)
    if isinstance(field, fields.Enum):
        return lambda value: None if value is None else value.value
    if isinstance(field, fields.Dict):
        return lambda value: None if value is None else dict(value)
    if isinstance(field, (fields.Integer, fields.Float, fields.String, fields.Raw)) and not isinstance(
        field, (fields.Nested, fields.List)
    ):
        return lambda value: value
    raise TypeError(f"fast_dump does not handle {type(field).__name__}")


def compile_dumper(schema: ma.Schema) -> Callable[[Any], dict[str, Any]]:
    """obj -> the dict schema.dump(obj) gives, for flat schemas of simple fields."""
    plan = [(name, field.attribute or name, _converter(field)) for name, field in schema.dump_fields.items()]

    def dump(obj: Any) -> dict[str, Any]:
        return {name: convert(getattr(obj, attribute)) for name, attribute, convert in plan}

    return dump
