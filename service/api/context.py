"""How views reach the use cases: one Services object per app, built by create_app."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import current_app, request

from ..access import AccessPolicy
from ..config import Settings
from ..domain.errors import InvalidInput
from ..domain.stored import Idempotency
from ..usecases.ask_tell import AskTell
from ..usecases.controls import Controls
from ..usecases.idempotency import Replays
from ..usecases.importance import ImportanceQueries
from ..usecases.portability import Portability
from ..usecases.regions import Regions
from ..usecases.reports import Reports
from ..usecases.studies import Studies
from ..usecases.trials import TrialQueries

MAX_IDEMPOTENCY_KEY = 255


@dataclass(frozen=True)
class Services:
    settings: Settings
    access: AccessPolicy
    studies: Studies
    ask_tell: AskTell
    trials: TrialQueries
    reports: Reports
    controls: Controls
    regions: Regions
    replays: Replays
    portability: Portability
    importance: ImportanceQueries


def services() -> Services:
    hone: Services = current_app.extensions["hone"]
    return hone


def idempotency() -> Idempotency | None:
    """The request's Idempotency-Key, fingerprinted with what it asks for."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(
            f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters", code="invalid_idempotency_key"
        )
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode() + request.get_data())
    return Idempotency(key, digest.hexdigest()[:32])
