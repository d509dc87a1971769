"""`{"name": ..., **options}` specs of pluggable parts (samplers, pruners), checked by the chosen
part's own marshmallow schema, with its defaults filled in so equal intents compare equal.

An option whose default changes lists its earlier defaults in its field's metadata
(FORMER_DEFAULTS): a study stored with one of them was created asking for the default, as the
PUT its workers still send does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma

from .domain.errors import InvalidInput

FORMER_DEFAULTS = "former_defaults"


def normalize_named(
    kind: str,
    raw: Mapping[str, Any] | None,
    schemas: Mapping[str, type[ma.Schema]],
    default: str,
    stored: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The spec with defaults filled; InvalidInput (code `invalid_<kind>`) naming what is wrong.

    Read against a `stored` spec of the same part, an option left out takes the stored value where
    that value is one of the option's former defaults."""
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
    if stored is not None and stored.get("name") == name:
        for key, field in schema().fields.items():
            if key not in raw and key in stored and stored[key] in field.metadata.get(FORMER_DEFAULTS, ()):
                options[key] = stored[key]
    return {"name": name, **options}
