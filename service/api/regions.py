"""HTTP route for a study's sampler levels: the data behind the notes' coarse-to-fine picture."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..access import Scope
from .auth import current_token, requires
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


class RegionEditSchema(Strict):
    param = fields.String(required=True)
    low = fields.Raw(load_default=None, metadata={"description": "New lower bound, in the param's units."})
    high = fields.Raw(load_default=None, metadata={"description": "New upper bound, in the param's units."})
    value = fields.Raw(load_default=None, metadata={"description": "Pin the param to this value."})
    choices = fields.List(fields.Raw(), load_default=None, metadata={"description": "Categorical: choices to keep."})
    note = fields.String(
        load_default="changed by hand", validate=validate.Length(min=1, max=2000), metadata={"description": "Why."}
    )
    by = fields.String(
        load_default=None,
        validate=validate.Length(max=100),
        metadata={"description": "Who, in open mode; with tokens the token's name is recorded instead."},
    )


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
        return services().regions.page(name, args["cursor"], args["limit"])

    @requires(Scope.WRITE)
    @blp.arguments(RegionEditSchema())
    @blp.response(200, LevelSchema)
    def post(self, body: dict[str, Any], name: str) -> Any:
        """Narrow, widen or pin a param by hand: a new level, which coarse-to-fine uses from the next ask."""
        token = current_token()
        return services().regions.edit(
            name,
            body["param"],
            low=body["low"],
            high=body["high"],
            value=body["value"],
            choices=body["choices"],
            note=body["note"],
            by=token.name if token is not None else body["by"] or "hand",
        )
