"""`{"name": ..., **options}` specs of pluggable parts (samplers, pruners), checked by the chosen
part's own marshmallow schema, with its defaults filled in so equal intents compare equal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma

from .domain.errors import InvalidInput


def normalize_named(
    kind: str, raw: Mapping[str, Any] | None, schemas: Mapping[str, type[ma.Schema]], default: str
) -> dict[str, Any]:
    """The spec with defaults filled; InvalidInput (code `invalid_<kind>`) naming what is wrong."""
    raw = dict(raw or {})
    name = raw.pop("name", default)
    schema = schemas.get(name)
    if schema is None:
        raise InvalidInput(
            f"unknown {kind} {name!r}; choose one of {sorted(schemas)}",
            code=f"invalid_{kind}",
            details={kind: [f"unknown {kind} {name!r}"]},
        )
    try:
        options = schema().load(raw)
    except ma.ValidationError as exc:
        raise InvalidInput(
            f"invalid options for {kind} {name!r}", code=f"invalid_{kind}", details={kind: exc.messages}
        ) from None
    return {"name": name, **options}
