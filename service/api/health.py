"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from .context import services
from .docs import operation
from .json_body import Blueprint
from .schemas import HealthSchema

blp = Blueprint("health", __name__, description="Probes for orchestrators and load balancers.")


@blp.route("/healthz")
class Health(MethodView):
    @operation("getHealth", None)
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, Any]:
        """The process is alive."""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @operation("getReadiness", None, errors=(503,))
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, Any]:
        """Redis answers; 503 (storage_unavailable) otherwise."""
        services().studies.storage_ready()
        return {"status": "ready"}
