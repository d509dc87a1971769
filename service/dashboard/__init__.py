"""The dashboard: static pages whose scripts read and steer studies through the public JSON API.

The blueprint touches no Redis and no use case; everything it shows comes from `/v1/...` calls
made by the browser, with the user's token, so it can do nothing the API would not allow.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask.wrappers import Response

from ..domain.study import STUDY_NAME

blp = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/dashboard/static",
)

# Only our own files may load: no CDN by construction, and a study name or note that smuggles
# markup in cannot run a script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


@blp.after_request
def secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.get("/")
def index() -> str:
    """Every study with its state, counts and best value."""
    return render_template("dashboard/index.html")


@blp.get("/compare")
def compare() -> str:
    """Two or more studies side by side: `/compare?study=a&study=b`."""
    return render_template("dashboard/compare.html")


@blp.get("/studies/<name>")
def study(name: str) -> str:
    """One study: charts, trials, regions and hand controls."""
    if not STUDY_NAME.match(name):
        abort(404)
    return render_template("dashboard/study.html", name=name)
