"""HTTP route for a study's sampler levels: the data behind the notes' coarse-to-fine picture."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..access import Scope
from ..domain.errors import InvalidInput
from .auth import requires
from .context import services
from .schemas import Strict, Timestamp

blp = Blueprint(
    "regions", __name__, url_prefix="/v1/studies/<name>", description="The sampler's levels and their regions."
)


class RegionListArgsSchema(Strict):
    cursor = fields.Integer(load_default=None, validate=validate.Range(min=0), metadata={"description": "A level."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1))


class LevelSchema(ma.Schema):
    level = fields.Integer()
    box = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(),
        metadata={"description": "Per param: low/high on its own scale, or the kept choices of a categorical."},
    )
    asked = fields.Integer(metadata={"description": "Trials handed out at this level."})
    finished = fields.Integer(metadata={"description": "Of those, the ones told (complete, failed or pruned)."})
    best = fields.Float(allow_none=True, metadata={"description": "Best complete value of the level."})
    by = fields.String(metadata={"description": "Who set the region: the sampler's name."})
    note = fields.String(metadata={"description": "Why the region changed."})
    created_at = Timestamp()
    first_draw = fields.Integer(metadata={"description": "The study-wide draw counter when the level began."})


class LevelListSchema(ma.Schema):
    current = fields.Integer(metadata={"description": "The level new trials come from."})
    levels = fields.List(fields.Nested(LevelSchema))
    next_cursor = fields.String(allow_none=True)


@blp.route("/regions")
class RegionCollection(MethodView):
    @requires(Scope.READ)
    @blp.arguments(RegionListArgsSchema(), location="query")
    @blp.response(200, LevelListSchema)
    def get(self, args: dict[str, Any], name: str) -> Any:
        """Every level, oldest first: its region in param units, trial counts and best value."""
        max_page = services().settings.limits.max_page_size
        if args["limit"] > max_page:
            raise InvalidInput(f"limit must be at most {max_page}", code="invalid_limit")
        return services().regions.page(name, args["cursor"], args["limit"])
