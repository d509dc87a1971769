"""HTTP routes for asking, telling and reading trials."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from flask import Response, jsonify, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from ..access import Scope
from ..domain.trial import Outcome, Trial, TrialState
from .auth import requires
from .context import idempotency, services
from .fast_dump import compile_dumper
from .idempotency import idempotent
from .schemas import (
    AskBodySchema,
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


@blp.route("/trials/ask")
class Ask(MethodView):
    @requires(Scope.WRITE)
    @blp.arguments(AskBodySchema())
    @blp.response(200, TrialListSchema)
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


@blp.route("/trials/<int:number>/tell")
class Tell(MethodView):
    @requires(Scope.WRITE)
    @blp.arguments(TellBodySchema())
    @blp.response(200, TrialSchema)
    def post(self, body: dict[str, Any], name: str, number: int) -> Response:
        """Tell a trial's outcome: complete with a value, failed with an error, or pruned."""
        outcome = Outcome(TrialState(body["state"]), body["value"], body["error"])
        return jsonify(dump_trial(services().ask_tell.tell(name, number, outcome, idempotency=idempotency())))


@blp.route("/trials/<int:number>/heartbeat")
class Heartbeat(MethodView):
    @requires(Scope.WRITE)
    @idempotent
    @blp.arguments(HeartbeatBodySchema())
    @blp.response(200, TrialSchema)
    def post(self, body: dict[str, Any], name: str, number: int) -> Response:
        """Renew a running trial's lease."""
        return jsonify(dump_trial(services().ask_tell.heartbeat(name, number, body["lease_seconds"])))


@blp.route("/trials")
class TrialCollection(MethodView):
    @requires(Scope.READ)
    @blp.arguments(TrialListArgsSchema(), location="query")
    @blp.response(200, TrialListSchema, description="A page of trials; or CSV with format=csv.")
    @blp.doc(
        responses={
            "200": {
                "content": {
                    "application/json": {"schema": TrialListSchema},
                    "text/csv": {"schema": {"type": "string"}},
                }
            }
        }
    )
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


@blp.route("/trials/<int:number>")
class TrialItem(MethodView):
    @requires(Scope.READ)
    @blp.response(200, TrialSchema)
    def get(self, name: str, number: int) -> Trial:
        """One trial."""
        return services().trials.get(name, number)


@blp.route("/best")
class Best(MethodView):
    @requires(Scope.READ)
    @blp.response(200, TrialSchema)
    def get(self, name: str) -> Trial:
        """The best complete trial (404 until one exists)."""
        return services().trials.best(name)


def _csv(trials: Iterator[Trial], param_names: list[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    stamp = Timestamp()._serialize
    writer.writerow([*CSV_FIELDS, *param_names])
    for trial in trials:
        row = [getattr(trial, f) for f in CSV_FIELDS]
        row[1] = trial.state.value
        row[4], row[5] = stamp(trial.asked_at, None, None), stamp(trial.finished_at, None, None)
        writer.writerow([*("" if v is None else v for v in row), *(trial.params.get(p, "") for p in param_names)])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
