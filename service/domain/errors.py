"""The domain's error tree. No web imports: `service.api.errors` maps each class to an HTTP status.

HoneError
 ├── InvalidInput          the request is well-formed JSON but breaks a rule (422)
 ├── NotFound              no such study or trial (404)
 ├── Conflict              the request clashes with stored state (409)
 ├── LimitExceeded         a configured size limit was hit (413 or 422, see the table)
 ├── Unauthenticated       no API token, or an unknown one (401)
 ├── Forbidden             the token lacks the scope or the study prefix (403)
 └── StorageUnavailable    Redis cannot be reached; safe to retry (503)
"""

from __future__ import annotations

from typing import Any


class HoneError(Exception):
    """Base class: a stable machine-readable `code`, a human message and optional details."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class InvalidInput(HoneError):
    code = "invalid_input"


class NotFound(HoneError):
    code = "not_found"


class Conflict(HoneError):
    code = "conflict"


class LimitExceeded(HoneError):
    code = "limit_exceeded"


class Unauthenticated(HoneError):
    code = "unauthorized"


class Forbidden(HoneError):
    code = "forbidden"


class StorageUnavailable(HoneError):
    code = "storage_unavailable"


class SpaceError(InvalidInput):
    """A search-space rule is broken; `details` names the param and the rule."""

    code = "invalid_space"

    def __init__(self, param: str | None, rule: str, message: str) -> None:
        where = f"param {param!r}: " if param else ""
        super().__init__(where + message, details={"param": param, "rule": rule})
        self.param = param
        self.rule = rule


class StaleStudy(NotFound):
    """The study was deleted, or deleted and created again, since the caller cached it."""

    code = "study_not_found"
