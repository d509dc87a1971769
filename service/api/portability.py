"""HTTP routes that move a study: export it as NDJSON, import such a stream as a new study."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import marshmallow as ma
from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..access import Scope
from .context import services
from .docs import STUDY_NAME_PARAMETER, operation
from .schemas import StudySchema
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
        required=True,
        validate=validate.OneOf(["study", "level", "trial", "queued", "end"]),
        metadata={
            "description": "study (first: format, version, spec, sampler state), level, trial, queued, "
            "end (last: how many of each came before)"
        },
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


@blp.route("/export", parameters=[STUDY_NAME_PARAMETER])
class Export(MethodView):
    @operation("exportStudy", Scope.READ, errors=(404, 422))
    @blp.response(
        200,
        ExportLineSchema,
        content_type=NDJSON,
        description="The study as newline-delimited JSON, streamed: one object per line.",
    )
    def get(self, name: str) -> Response:
        """Export a study as NDJSON.

        Streams the whole study: spec, sampler levels and regions, every trial with its params,
        state, value, reports and note, and the queued configurations. Pause the study first for
        an exact copy; trials told meanwhile may or may not be in it. 404 study_not_found.
        """
        lines = services().portability.export(name)
        return Response(
            lines, mimetype=NDJSON, headers={"Content-Disposition": f'attachment; filename="{name}.ndjson"'}
        )


@blp.route("/import", parameters=[STUDY_NAME_PARAMETER])
class Import(MethodView):
    @operation("importStudy", Scope.ADMIN, errors=(409, 413, 422))
    @blp.doc(
        requestBody={
            "required": True,
            "description": "An export of GET /v1/studies/{name}/export, as it came.",
            "content": {NDJSON: {"schema": {"type": "string", "format": "binary"}}},
        },
    )
    @blp.response(201, StudySchema, description="The study was created from the stream.")
    def post(self, name: str) -> Any:
        """Import a study from an export.

        Creates study `name` from an export stream, chunk by chunk, published only once every
        line arrived and the counts match; anything else leaves no study behind. 409 study_exists:
        the name is taken; 413: the stream is over HONE_MAX_IMPORT_BYTES; 422 invalid_import,
        truncated_import or unsupported_format: a corrupt or truncated stream, nothing was created.
        """
        limits = services().settings.limits
        request.max_content_length = limits.max_import_bytes
        study = services().portability.import_(name, _lines(request.stream, limits.max_request_bytes))
        return study_out(study), 201
