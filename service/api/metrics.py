"""GET /metrics, and the request hooks that feed it."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, g, request
from flask.wrappers import Response
from prometheus_client import CONTENT_TYPE_LATEST

from .. import metrics
from ..access import Scope
from .auth import current_token, requires
from .context import services

blp = Blueprint("metrics", __name__)
TIMED = {"trials.Ask": metrics.ASK_SECONDS, "trials.Tell": metrics.TELL_SECONDS}


@blp.get("/metrics")
@requires(Scope.READ)
def scrape() -> Response:
    hone = services()
    prefixes = hone.access.prefixes(current_token())
    text = metrics.render(lambda: hone.studies.trial_counts(prefixes), hone.settings.limits.max_metric_studies)
    return Response(text, mimetype=CONTENT_TYPE_LATEST)


def instrument(app: Flask) -> None:
    """Count every request by its route template (bounded labels) and time asks and tells."""

    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def observe(response: Response) -> Response:
        rule = request.url_rule
        route = rule.rule if rule is not None else "unmatched"
        metrics.REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        histogram = TIMED.get(request.endpoint or "")
        if histogram is not None and "started" in g:
            histogram.observe(time.perf_counter() - g.started)
        return response
