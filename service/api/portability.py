"""HTTP routes that move a study: export it as NDJSON, import such a stream as a new study."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import marshmallow as ma
from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from ..access import Scope
from .auth import requires
from .context import services
from .schemas import ErrorSchema, StudySchema
from .studies import study_out

NDJSON = "application/x-ndjson"

blp = Blueprint(
    "portability",
    __name__,
    url_prefix="/v1/studies/<name>",
    description="Move a study between servers, back it up or share it: newline-delimited JSON.",
)


class ExportLineSchema(ma.Schema):
    """One line of an export. Every line has a kind; the other fields depend on it."""

    kind = fields.String(
        metadata={
            "description": "study (first: format, version, spec, sampler state), level, trial, queued, "
            "end (last: how many of each came before)"
        }
    )
    format = fields.String(metadata={"description": "study line: hone-study"})
    version = fields.Integer(metadata={"description": "study line: the format version, 1"})


READ_BUFFER = 1 << 16  # werkzeug's request stream reads a byte per call when asked for a line


def _lines(raw: Any, max_line: int) -> Iterator[bytes]:
    """The request body a line at a time, never more than one line held (plus one byte, so an
    over-long line is told from one of exactly the limit)."""
    stream = io.BufferedReader(raw, READ_BUFFER)
    while True:
        line = stream.readline(max_line + 1)
        if not line:
            return
        yield line


@blp.route("/export")
class Export(MethodView):
    @requires(Scope.READ)
    @blp.response(
        200,
        ExportLineSchema,
        content_type=NDJSON,
        description="The study as newline-delimited JSON, streamed: one object per line.",
    )
    @blp.alt_response(404, schema=ErrorSchema, description="No such study (study_not_found).")
    @blp.doc(operationId="exportStudy", summary="Export a study as NDJSON")
    def get(self, name: str) -> Response:
        """Stream the whole study: spec, sampler levels and regions, every trial with its params,
        state, value, reports and note, and the queued configurations. Pause the study first for
        an exact copy; trials told meanwhile may or may not be in it."""
        lines = services().portability.export(name)
        return Response(
            lines, mimetype=NDJSON, headers={"Content-Disposition": f'attachment; filename="{name}.ndjson"'}
        )


@blp.route("/import")
class Import(MethodView):
    @requires(Scope.ADMIN)
    @blp.doc(
        operationId="importStudy",
        summary="Import a study from an export",
        requestBody={
            "required": True,
            "description": "An export of GET /v1/studies/{name}/export, as it came.",
            "content": {NDJSON: {"schema": {"type": "string", "format": "binary"}}},
        },
    )
    @blp.response(201, StudySchema, description="The study was created from the stream.")
    @blp.alt_response(409, schema=ErrorSchema, description="The name is taken (study_exists).")
    @blp.alt_response(
        422,
        schema=ErrorSchema,
        description="A corrupt or truncated stream (invalid_import, truncated_import, unsupported_format): "
        "nothing was created.",
    )
    @blp.alt_response(413, schema=ErrorSchema, description="The stream is over HONE_MAX_IMPORT_BYTES.")
    def post(self, name: str) -> Any:
        """Create study `name` from an export stream, chunk by chunk, published only once every
        line arrived and the counts match; anything else leaves no study behind."""
        limits = services().settings.limits
        request.max_content_length = limits.max_import_bytes
        study = services().portability.import_(name, _lines(request.stream, limits.max_request_bytes))
        return study_out(study), 201
