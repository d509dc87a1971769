"""HTTP route for what matters: each param's importance for the objective."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from ..access import Scope
from ..usecases.importance import MAX_TRIALS, MIN_TRIALS
from .auth import requires
from .context import services
from .schemas import ErrorSchema

blp = Blueprint(
    "importance", __name__, url_prefix="/v1/studies/<name>", description="Which params matter for the objective."
)


class ParamImportanceSchema(ma.Schema):
    param = fields.String()
    importance = fields.Float(metadata={"description": "Share of the total, 0 to 1; all params' shares sum to 1."})
    score = fields.Float(metadata={"description": "Mean drop of the forest's R² when the param is shuffled."})
    std = fields.Float(metadata={"description": "Spread of that drop over the shuffles."})


class ImportanceSchema(ma.Schema):
    params = fields.List(fields.Nested(ParamImportanceSchema), metadata={"description": "Most important first."})
    trials = fields.Integer(metadata={"description": "Complete trials the forest was fitted on."})
    complete = fields.Integer(metadata={"description": "Complete trials the study has."})
    sampled = fields.Boolean(
        metadata={"description": f"True when the study has more than {MAX_TRIALS} complete trials: a random sample."}
    )
    method = fields.String()


@blp.route("/importance")
class ImportanceItem(MethodView):
    @requires(Scope.READ)
    @blp.response(200, ImportanceSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such study (`study_not_found`).")
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description=f"Fewer than {MIN_TRIALS} complete trials (`too_few_trials`; details: complete, needed).",
    )
    @blp.doc(
        operationId="getImportance",
        summary="Each param's importance for the objective",
        description=(
            "Permutation importance of a random forest fitted to the complete trials "
            f"(a random sample of {MAX_TRIALS} on larger studies, `sampled` says so). "
            "Cached until the count of complete trials grows by more than 1% (`complete` is the count it is from)."
        ),
    )
    def get(self, name: str) -> Any:
        """Each param's importance for the objective over the complete trials."""
        return services().importance.get(name)
