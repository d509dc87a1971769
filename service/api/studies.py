"""HTTP routes for studies."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from ..access import Scope
from ..domain.study import Study
from .auth import current_token
from .context import services
from .docs import SAME_STUDY, STUDY_NAME_PARAMETER, link, operation
from .idempotency import idempotent
from .json_body import Blueprint
from .schemas import StudyBodySchema, StudyListArgsSchema, StudyListSchema, StudySchema, param_out

STUDY_EXAMPLE = {
    "direction": "minimize",
    "space": [
        {"name": "learning_rate", "type": "float", "low": 1e-5, "high": 1e-1, "scale": "log"},
        {"name": "layers", "type": "int", "low": 1, "high": 8},
        {"name": "optimizer", "type": "categorical", "choices": ["sgd", "adam"]},
    ],
}

# What a client may do with a study once it is created: the links from createStudy.
STUDY_OPERATIONS = (
    "askTrials",
    "getStudy",
    "listTrials",
    "getBestTrial",
    "getCurves",
    "enqueueConfigurations",
    "pauseStudy",
    "resumeStudy",
    "setStudyNote",
    "listRegions",
    "editRegion",
    "deleteStudy",
)

blp = Blueprint("studies", __name__, url_prefix="/v1/studies", description="Register, read and delete studies.")


def study_out(study: Study) -> dict[str, Any]:
    spec = study.spec
    counts = {state.value: n for state, n in study.counts.items()}
    counts["total"] = study.extra.get("trials_total", sum(counts.values()))
    return {
        "name": study.name,
        "direction": spec.direction.value,
        "space": [param_out(p) for p in spec.space.params],
        "sampler": dict(spec.sampler),
        "seed": spec.seed,
        "effective_seed": study.effective_seed,
        "metadata": dict(spec.metadata),
        "max_retries": spec.max_retries,
        "lease_seconds": spec.lease_seconds,
        "pruner": dict(spec.pruner),
        "state": "paused" if study.paused else "active",
        "note": study.extra.get("note"),
        "queued": study.extra.get("queued", 0),
        "created_at": study.created_at,
        "counts": counts,
        "points": study.extra.get("points"),
        "best": study.best,
    }


@blp.route("")
class StudyCollection(MethodView):
    @operation("listStudies", Scope.READ, errors=(422,))
    @blp.arguments(StudyListArgsSchema(), location="query")
    @blp.response(200, StudyListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List studies by name, with counts and best trial."""
        prefixes = services().access.prefixes(current_token())
        studies, next_cursor = services().studies.list(args["cursor"], args["limit"], prefixes)
        return {"studies": [study_out(s) for s in studies], "next_cursor": next_cursor}


@blp.route("/<name>", parameters=[STUDY_NAME_PARAMETER])
class StudyItem(MethodView):
    @operation(
        "createStudy",
        Scope.ADMIN,
        errors=(409,),
        body=True,
        idempotency_key=True,
        links={status: {name: link(name, name=SAME_STUDY) for name in STUDY_OPERATIONS} for status in (200, 201)},
    )
    @idempotent
    @blp.arguments(StudyBodySchema(), example=STUDY_EXAMPLE)
    @blp.response(200, StudySchema, description="The study existed with this same spec.")
    @blp.alt_response(201, schema=StudySchema, description="The study was created.")
    def put(self, body: dict[str, Any], name: str) -> Any:
        """Create a study, or get it if it exists with the same spec (409 if the spec differs)."""
        study, created = services().studies.put(name, body)
        return study_out(study), 201 if created else 200

    @operation("getStudy", Scope.READ, errors=(404, 422))
    @blp.response(200, StudySchema)
    def get(self, name: str) -> dict[str, Any]:
        """A study: its spec, trial counts by state and best trial."""
        return study_out(services().studies.get(name))

    @operation("deleteStudy", Scope.ADMIN, errors=(404, 409, 422), idempotency_key=True)
    @idempotent
    @blp.response(204)
    def delete(self, name: str) -> None:
        """Delete a study and all its trials."""
        services().studies.delete(name)
