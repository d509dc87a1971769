"""The app factory: `gunicorn -c service/gunicorn_conf.py 'service.app:create_app()'`."""

from __future__ import annotations

import atexit
import logging
from collections.abc import Mapping
from typing import Any

import swagger_ui_bundle
from flask import Flask, send_from_directory
from flask.wrappers import Response
from flask_smorest import Api

from .access import AccessPolicy
from .api import controls, errors, health, importance, portability, regions, studies, trials
from .api import metrics as metrics_api
from .api.context import Services
from .api.docs import BEARER_SCHEME
from .api.schemas import ErrorSchema, limits_in_document
from .config import Settings
from .dashboard import blp as dashboard_blp
from .embedded_redis import EmbeddedRedis
from .storage.connection import connect
from .storage.store import Store
from .usecases.ask_tell import AskTell
from .usecases.controls import Controls
from .usecases.idempotency import Replays
from .usecases.importance import ImportanceQueries
from .usecases.portability import Portability
from .usecases.regions import Regions
from .usecases.reports import Reports
from .usecases.studies import Studies
from .usecases.trials import TrialQueries

log = logging.getLogger(__name__)


class HoneApi(Api):
    """flask-smorest's Api with our single error shape, in responses and in the OpenAPI document."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None  # each operation lists the error statuses it can answer

    def handle_http_exception(self, error: Any) -> Any:
        return errors.handle_http_exception(error)


def _redis_url(settings: Settings) -> str:
    if settings.redis_url:
        return settings.redis_url
    # Without gunicorn (flask run, a script), this process owns a private server.
    embedded = EmbeddedRedis(settings.data_dir, settings.appendfsync)
    url = embedded.start()
    atexit.register(embedded.stop)
    return url


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `test_config` may hold a `settings` (Settings) and Flask config keys."""
    test_config = dict(test_config or {})
    settings: Settings = test_config.pop("settings", None) or Settings.from_env()
    app = Flask("hone")
    app.config.update(
        API_TITLE="Hone",
        API_VERSION="1",
        OPENAPI_VERSION="3.1.0",  # 3.1: a nullable field is `type: [..., "null"]`, which generators type exactly
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Swagger UI's assets ship in a Python package: the docs work with no internet.
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        MAX_CONTENT_LENGTH=settings.limits.max_request_bytes,
    )
    # The document describes this deployment: open mode publishes the scheme but requires no token.
    app.config["API_SPEC_OPTIONS"] = {
        "components": {"securitySchemes": {"bearer": BEARER_SCHEME}},
        **({"security": [{"bearer": []}]} if settings.tokens else {}),
    }
    app.json.sort_keys = False  # type: ignore[attr-defined]  # params keep the space's order
    app.config.update(test_config)

    store = Store(connect(_redis_url(settings)))
    studies_uc = Studies(store, settings.limits)
    access = AccessPolicy(settings.tokens)
    if access.open:
        log.warning("no API tokens configured: anyone who can reach %s may use every study", settings.bind)
    app.extensions["hone"] = Services(
        settings=settings,
        access=access,
        studies=studies_uc,
        ask_tell=AskTell(studies_uc, store, settings.limits),
        trials=TrialQueries(studies_uc, store, settings.limits),
        reports=Reports(studies_uc, store, settings.limits),
        controls=Controls(studies_uc, store, settings.limits),
        regions=Regions(studies_uc, store, settings.limits),
        replays=Replays(store),
        portability=Portability(studies_uc, store, settings.limits),
        importance=ImportanceQueries(studies_uc, store),
    )

    api = HoneApi(app)
    api.ma_plugin.converter.add_attribute_function(limits_in_document(settings.limits))
    for blueprint in (studies.blp, trials.blp, controls.blp, regions.blp, portability.blp, importance.blp, health.blp):
        api.register_blueprint(blueprint)
    app.register_blueprint(metrics_api.blp)
    app.register_blueprint(dashboard_blp)
    metrics_api.instrument(app)
    errors.register(app)

    @app.get("/docs/assets/<path:filename>")
    def docs_assets(filename: str) -> Response:
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    return app
