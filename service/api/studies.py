"""HTTP routes for studies."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from ..access import Scope
from ..domain.study import Study
from .auth import current_token, requires
from .context import services
from .idempotency import idempotent
from .schemas import StudyBodySchema, StudyListArgsSchema, StudyListSchema, StudySchema, param_out

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
    @requires(Scope.READ)
    @blp.arguments(StudyListArgsSchema(), location="query")
    @blp.response(200, StudyListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List studies by name, with counts and best trial."""
        token = current_token()
        studies, next_cursor = services().studies.list(
            args["cursor"], args["limit"], visible=lambda name: services().access.visible(token, name)
        )
        return {"studies": [study_out(s) for s in studies], "next_cursor": next_cursor}


@blp.route("/<name>")
class StudyItem(MethodView):
    @requires(Scope.ADMIN)
    @idempotent
    @blp.arguments(StudyBodySchema())
    @blp.response(200, StudySchema, description="The study existed with this same spec.")
    @blp.alt_response(201, schema=StudySchema, description="The study was created.")
    def put(self, body: dict[str, Any], name: str) -> Any:
        """Create a study, or get it if it exists with the same spec (409 if the spec differs)."""
        study, created = services().studies.put(name, body)
        return study_out(study), 201 if created else 200

    @requires(Scope.READ)
    @blp.response(200, StudySchema)
    def get(self, name: str) -> dict[str, Any]:
        """A study: its spec, trial counts by state and best trial."""
        return study_out(services().studies.get(name))

    @requires(Scope.ADMIN)
    @idempotent
    @blp.response(204)
    def delete(self, name: str) -> None:
        """Delete a study and all its trials."""
        services().studies.delete(name)
