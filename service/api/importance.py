"""HTTP route for what matters: each param's importance for the objective."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields

from ..access import Scope
from ..usecases.importance import MAX_TRIALS
from .context import services
from .docs import STUDY_NAME_PARAMETER, operation
from .json_body import Blueprint

blp = Blueprint(
    "importance", __name__, url_prefix="/v1/studies/<name>", description="Which params matter for the objective."
)


class ParamImportanceSchema(ma.Schema):
    param = fields.String(required=True)
    importance = fields.Float(
        required=True, metadata={"description": "Share of the total, 0 to 1; all params' shares sum to 1."}
    )
    score = fields.Float(
        required=True, metadata={"description": "Mean drop of the forest's R² when the param is shuffled."}
    )
    std = fields.Float(required=True, metadata={"description": "Spread of that drop over the shuffles."})


class ImportanceSchema(ma.Schema):
    params = fields.List(
        fields.Nested(ParamImportanceSchema), required=True, metadata={"description": "Most important first."}
    )
    trials = fields.Integer(required=True, metadata={"description": "Complete trials the forest was fitted on."})
    complete = fields.Integer(required=True, metadata={"description": "Complete trials the study has."})
    sampled = fields.Boolean(
        required=True,
        metadata={"description": f"True when the study has more than {MAX_TRIALS} complete trials: a random sample."},
    )
    method = fields.String(required=True, metadata={"description": "How the importance was computed."})


@blp.route("/importance", parameters=[STUDY_NAME_PARAMETER])
class ImportanceItem(MethodView):
    @operation("getImportance", Scope.READ, errors=(404, 409, 422))
    @blp.response(200, ImportanceSchema)
    def get(self, name: str) -> Any:
        """Each param's importance for the objective, most important first.

        Permutation importance of a random forest fitted to the complete trials (a random sample on
        larger studies; `sampled` says so). Cached until the count of complete trials grows by more
        than 1% (`complete` is the count it is from). 404 `study_not_found`; 422 `invalid_name`;
        409 `too_few_trials` while the study has too few complete trials (details: complete, needed).
        """
        return services().importance.get(name)
