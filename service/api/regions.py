"""HTTP route for a study's sampler levels: the data behind the notes' coarse-to-fine picture."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields, validate

from ..access import Scope
from .auth import current_token
from .context import services
from .docs import STUDY_NAME_PARAMETER, operation
from .json_body import Blueprint
from .schemas import NUMBER, SCALAR, ScalarChoice, Strict, StudyPinSchema, Timestamp, bounded_by

blp = Blueprint(
    "regions", __name__, url_prefix="/v1/studies/<name>", description="The sampler's levels and their regions."
)


class RegionListArgsSchema(Strict):
    cursor = fields.Integer(load_default=None, validate=validate.Range(min=0), metadata={"description": "A level."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1), metadata=bounded_by("max_page_size"))


REGION = {
    "type": "object",
    "properties": {"low": NUMBER, "high": NUMBER, "choices": {"type": "array", "items": SCALAR}},
    "description": "A numeric param's low and high on its own scale, or a categorical's kept choices.",
}


class LevelSchema(ma.Schema):
    level = fields.Integer(required=True)
    box = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(metadata=REGION),
        required=True,
        metadata={"description": "The region new trials come from; with several basins, the main (best) one's."},
    )
    basins = fields.List(
        fields.Dict(keys=fields.String(), values=fields.Raw(metadata=REGION)),
        required=True,
        metadata={
            "description": "coarse_to_fine: the boxes of the other basins (distinct clusters of good trials) "
            "that share this level's draws with `box`, best first; empty when the level has one."
        },
    )
    asked = fields.Integer(required=True, metadata={"description": "Trials handed out at this level."})
    finished = fields.Integer(
        required=True, metadata={"description": "Of those, the ones told (complete, failed or pruned)."}
    )
    reached_first_rung = fields.Integer(
        required=True,
        metadata={
            "description": "Of those, the ones the asha pruner ranked at its first rung (0 without it). "
            "coarse_to_fine judges a level from them, running ones included, when they reach its judge "
            "point before its finished trials do."
        },
    )
    best = fields.Float(required=True, allow_none=True, metadata={"description": "Best complete value of the level."})
    by = fields.String(required=True, metadata={"description": "Who set the region: the sampler's name."})
    note = fields.String(required=True, metadata={"description": "Why the region changed."})
    created_at = Timestamp(required=True)
    first_draw = fields.Integer(
        required=True, metadata={"description": "The study-wide draw counter when the level began."}
    )


class RegionEditSchema(StudyPinSchema):
    param = fields.String(required=True)
    low = fields.Raw(load_default=None, metadata={"description": "New lower bound, in the param's units.", **NUMBER})
    high = fields.Raw(load_default=None, metadata={"description": "New upper bound, in the param's units.", **NUMBER})
    value = ScalarChoice(load_default=None, allow_none=True, metadata={"description": "Pin the param to this value."})
    choices = fields.List(
        ScalarChoice(), load_default=None, allow_none=True, metadata={"description": "Categorical: choices to keep."}
    )
    note = fields.String(
        load_default="changed by hand", validate=validate.Length(min=1, max=2000), metadata={"description": "Why."}
    )
    by = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"description": "Who, in open mode; with tokens the token's name is recorded instead."},
    )


class LevelListSchema(ma.Schema):
    current = fields.Integer(required=True, metadata={"description": "The level new trials come from."})
    levels = fields.List(fields.Nested(LevelSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


@blp.route("/regions", parameters=[STUDY_NAME_PARAMETER])
class RegionCollection(MethodView):
    @operation("listRegions", Scope.READ, errors=(404, 422))
    @blp.arguments(RegionListArgsSchema(), location="query")
    @blp.response(200, LevelListSchema)
    def get(self, args: dict[str, Any], name: str) -> Any:
        """Every level, oldest first: its region in param units, trial counts and best value."""
        return services().regions.page(name, args["cursor"], args["limit"])

    @operation("editRegion", Scope.WRITE, errors=(404, 409), body=True)
    @blp.arguments(RegionEditSchema())
    @blp.response(200, LevelSchema)
    def post(self, body: dict[str, Any], name: str) -> Any:
        """Narrow, widen or pin a param by hand: a new level, which coarse-to-fine uses from the next ask."""
        token = current_token()
        return services().regions.edit(
            name,
            body["study_id"],
            body["param"],
            low=body["low"],
            high=body["high"],
            value=body["value"],
            choices=body["choices"],
            note=body["note"],
            by=token.name if token is not None else body["by"] or "hand",
        )
