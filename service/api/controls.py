"""HTTP routes for babysitting a study: learning curves, pruning, and hand controls."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from ..access import Scope
from ..domain.study import Study
from ..domain.trial import Trial
from .context import services
from .docs import STUDY_NAME_PARAMETER, operation
from .idempotency import idempotent
from .json_body import Blueprint
from .schemas import (
    CurveArgsSchema,
    CurveListSchema,
    EnqueueBodySchema,
    EnqueuedListSchema,
    NoteBodySchema,
    PruneSchema,
    ReportBodySchema,
    StudySchema,
    TrialSchema,
)
from .studies import study_out

blp = Blueprint(
    "controls",
    __name__,
    url_prefix="/v1/studies/<name>",
    description="Intermediate results, early stopping and hand controls (panda mode).",
)


@blp.route("/trials/<int:number>/report", parameters=[STUDY_NAME_PARAMETER])
class Report(MethodView):
    @operation("reportTrial", Scope.WRITE, errors=(404, 409), body=True, idempotency_key=True)
    @idempotent
    @blp.arguments(ReportBodySchema())
    @blp.response(200, PruneSchema)
    def post(self, body: dict[str, Any], name: str, number: int) -> dict[str, bool]:
        """Record a learning-curve point of a running trial; answers whether to stop it now."""
        return {"prune": services().reports.report(name, number, body["step"], body["value"])}


@blp.route("/curves", parameters=[STUDY_NAME_PARAMETER])
class Curves(MethodView):
    @operation("getCurves", Scope.READ, errors=(404, 422))
    @blp.arguments(CurveArgsSchema(), location="query")
    @blp.response(200, CurveListSchema)
    def get(self, args: dict[str, Any], name: str) -> dict[str, Any]:
        """Learning curves of the given trials, thinned to at most max_points each."""
        curves = services().reports.curves(name, args["numbers"], args["max_points"])
        return {"curves": [{"number": c.number, "points": c.points} for c in curves]}


@blp.route("/enqueue", parameters=[STUDY_NAME_PARAMETER])
class Enqueue(MethodView):
    @operation("enqueueConfigurations", Scope.WRITE, errors=(404, 409), body=True, idempotency_key=True)
    @idempotent
    @blp.arguments(EnqueueBodySchema())
    @blp.response(200, EnqueuedListSchema)
    def post(self, body: dict[str, Any], name: str) -> dict[str, Any]:
        """Queue exact configurations: asks hand them out first, in order."""
        enqueued = services().controls.enqueue(name, body["configurations"])
        return {"enqueued": [{"id": e.id, "params": e.params} for e in enqueued]}


@blp.route("/pause", parameters=[STUDY_NAME_PARAMETER])
class Pause(MethodView):
    @operation("pauseStudy", Scope.WRITE, errors=(404, 422))
    @blp.response(200, StudySchema)
    def post(self, name: str) -> dict[str, Any]:
        """Stop handing out trials (ask answers 409 study_paused); running trials still report and tell."""
        return study_out(services().controls.set_paused(name, True))


@blp.route("/resume", parameters=[STUDY_NAME_PARAMETER])
class Resume(MethodView):
    @operation("resumeStudy", Scope.WRITE, errors=(404, 422))
    @blp.response(200, StudySchema)
    def post(self, name: str) -> dict[str, Any]:
        """Hand out trials again."""
        return study_out(services().controls.set_paused(name, False))


@blp.route("/note", parameters=[STUDY_NAME_PARAMETER])
class StudyNote(MethodView):
    @operation("setStudyNote", Scope.WRITE, errors=(404,), body=True)
    @blp.arguments(NoteBodySchema())
    @blp.response(200, StudySchema)
    def put(self, body: dict[str, Any], name: str) -> dict[str, Any]:
        """Set the study's note."""
        study: Study = services().controls.set_study_note(name, body["note"])
        return study_out(study)


@blp.route("/trials/<int:number>/note", parameters=[STUDY_NAME_PARAMETER])
class TrialNote(MethodView):
    @operation("setTrialNote", Scope.WRITE, errors=(404,), body=True)
    @blp.arguments(NoteBodySchema())
    @blp.response(200, TrialSchema)
    def put(self, body: dict[str, Any], name: str, number: int) -> Trial:
        """Set a trial's note."""
        return services().controls.set_trial_note(name, number, body["note"])
