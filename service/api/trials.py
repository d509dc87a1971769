"""HTTP routes for asking, telling and reading trials."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from flask import Response, jsonify, stream_with_context
from flask.views import MethodView

from ..access import Scope
from ..domain.trial import Outcome, Trial, TrialState
from .context import idempotency, services
from .docs import SAME_STUDY, STUDY_NAME_PARAMETER, link, operation
from .fast_dump import compile_dumper
from .idempotency import idempotent
from .json_body import Blueprint
from .schemas import (
    AskBodySchema,
    AskedSchema,
    HeartbeatBodySchema,
    TellBodySchema,
    Timestamp,
    TrialListArgsSchema,
    TrialListSchema,
    TrialSchema,
)

blp = Blueprint(
    "trials", __name__, url_prefix="/v1/studies/<name>", description="Ask for trials, tell results, read trials."
)

dump_trial = compile_dumper(TrialSchema())

CSV_FIELDS = (
    "number",
    "state",
    "value",
    "worker",
    "asked_at",
    "finished_at",
    "source",
    "level",
    "attempt",
    "retry_of",
    "error",
    "note",
)

# A spreadsheet reads a cell that starts with one of these as a formula (or, for tab and CR, may
# drop them and then read one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@blp.route("/trials/ask", parameters=[STUDY_NAME_PARAMETER])
class Ask(MethodView):
    @operation(
        "askTrials",
        Scope.WRITE,
        errors=(404, 409),
        body=True,
        idempotency_key=True,
        links={
            200: {
                name: link(name, name=SAME_STUDY, number="$response.body#/trials/0/number")
                for name in ("tellTrial", "heartbeatTrial", "getTrial", "reportTrial", "setTrialNote")
            }
        },
    )
    @blp.arguments(AskBodySchema(), required=False, example={"count": 1, "worker": "gpu-node-3"})
    @blp.response(200, AskedSchema)
    def post(self, body: dict[str, Any], name: str) -> Response:
        """Ask for `count` new trials (an Idempotency-Key makes a retried ask return the same ones)."""
        trials = services().ask_tell.ask(
            name,
            body["count"],
            worker=body["worker"],
            resume=body["resume"],
            lease_seconds=body["lease_seconds"],
            idempotency=idempotency(),
        )
        return jsonify({"trials": [dump_trial(t) for t in trials]})


@blp.route("/trials/<int:number>/tell", parameters=[STUDY_NAME_PARAMETER])
class Tell(MethodView):
    @operation(
        "tellTrial",
        Scope.WRITE,
        errors=(404, 409),
        body=True,
        idempotency_key=True,
        links={
            200: {
                "getTrial": link("getTrial", name=SAME_STUDY, number="$request.path.number"),
                "getBestTrial": link("getBestTrial", name=SAME_STUDY),
            }
        },
    )
    @blp.arguments(TellBodySchema(), example={"state": "complete", "value": 0.173})
    @blp.response(200, TrialSchema)
    def post(self, body: dict[str, Any], name: str, number: int) -> Response:
        """Tell a trial's outcome: complete with a value, failed with an error, or pruned."""
        outcome = Outcome(TrialState(body["state"]), body["value"], body["error"])
        return jsonify(dump_trial(services().ask_tell.tell(name, number, outcome, idempotency=idempotency())))


@blp.route("/trials/<int:number>/heartbeat", parameters=[STUDY_NAME_PARAMETER])
class Heartbeat(MethodView):
    @operation("heartbeatTrial", Scope.WRITE, errors=(404, 409), body=True, idempotency_key=True)
    @idempotent
    @blp.arguments(HeartbeatBodySchema(), required=False)
    @blp.response(200, TrialSchema)
    def post(self, body: dict[str, Any], name: str, number: int) -> Response:
        """Renew a running trial's lease."""
        return jsonify(dump_trial(services().ask_tell.heartbeat(name, number, body["lease_seconds"])))


@blp.route("/trials", parameters=[STUDY_NAME_PARAMETER])
class TrialCollection(MethodView):
    @operation("listTrials", Scope.READ, errors=(404, 422))
    @blp.arguments(TrialListArgsSchema(), location="query")
    @blp.response(200, TrialListSchema, description="A page of trials; or CSV with format=csv.")
    @blp.doc(responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
    def get(self, args: dict[str, Any], name: str) -> Any:
        """List trials: filter by state, order by number or value, page with next_cursor."""
        states = frozenset(TrialState(s) for s in args["state"]) if args.get("state") else None
        trials = services().trials
        if args["format"] == "csv":
            rows = trials.iterate(name, states=states, order=args["order"])
            handle = services().studies.handle(name)
            return Response(
                stream_with_context(_csv(rows, [p.name for p in handle.spec.space.params])),
                mimetype="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{name}-trials.csv"'},
            )
        page = trials.page(name, states=states, order=args["order"], cursor=args["cursor"], limit=args["limit"])
        return {"trials": page.trials, "next_cursor": page.next_cursor}


@blp.route("/trials/<int:number>", parameters=[STUDY_NAME_PARAMETER])
class TrialItem(MethodView):
    @operation("getTrial", Scope.READ, errors=(404, 422))
    @blp.response(200, TrialSchema)
    def get(self, name: str, number: int) -> Trial:
        """One trial."""
        return services().trials.get(name, number)


@blp.route("/best", parameters=[STUDY_NAME_PARAMETER])
class Best(MethodView):
    @operation("getBestTrial", Scope.READ, errors=(404, 422))
    @blp.response(200, TrialSchema)
    def get(self, name: str) -> Trial:
        """The best complete trial (404 until one exists)."""
        return services().trials.best(name)


def _cell(value: Any) -> Any:
    """A CSV cell: text that a spreadsheet would run as a formula gets a leading single quote
    (OWASP's advice on CSV injection); numbers stay numbers, so -0.5 is still -0.5."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv(trials: Iterator[Trial], param_names: list[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    stamp = Timestamp()._serialize
    writer.writerow([_cell(name) for name in (*CSV_FIELDS, *param_names)])
    for trial in trials:
        row = [getattr(trial, f) for f in CSV_FIELDS]
        row[1] = trial.state.value
        row[4], row[5] = stamp(trial.asked_at, None, None), stamp(trial.finished_at, None, None)
        writer.writerow([_cell(v) for v in (*row, *(trial.params.get(p) for p in param_names))])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
