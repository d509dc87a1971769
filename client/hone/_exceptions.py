"""Every error the client raises. The tree:

HoneError
 ├── ObjectiveFailed           optimize stopped: the objective failed on several trials in a row
 ├── TransportError            the server could not be reached, even after retries
 └── APIError                  the server answered with an error: .status .code .message .details
      ├── InvalidRequest       400, 413, 422: the request breaks a rule (e.g. code invalid_space)
      ├── Unauthorized         401: no token, or an unknown one
      ├── Forbidden            403: the token lacks the scope or the study prefix
      ├── NotFound             404: study_not_found, trial_not_found, ...
      ├── Conflict             409: study_exists, trial_finished, trial_expired, ...
      ├── ServiceUnavailable   502, 503, 504 that outlasted the retries
      └── ServerError          any other 5xx

`code` is the server's stable machine-readable code; `message` is meant for people.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = [
    "APIError",
    "Conflict",
    "Forbidden",
    "HoneError",
    "InvalidRequest",
    "NotFound",
    "ObjectiveFailed",
    "ServerError",
    "ServiceUnavailable",
    "TransportError",
    "Unauthorized",
]


class HoneError(Exception):
    """Base class of every error raised by the client."""


class ObjectiveFailed(HoneError):
    """`optimize` stopped: the objective raised on `failures` trials in a row; the last is trial `number`.

    The last error is this exception's `__cause__` (and `error`), so its traceback is shown too.
    """

    def __init__(self, study: str, number: int, failures: int, error: BaseException) -> None:
        super().__init__(
            f"stopped study {study!r} after {failures} failed trials in a row; "
            f"the last, trial {number}, raised {type(error).__name__}: {error}"
        )
        self.study = study
        self.number = number
        self.failures = failures
        self.error = error


class TransportError(HoneError):
    """No answer from the server (connection refused or reset, timeout), after every retry."""


class APIError(HoneError):
    """The server answered with an error status and its `{"error": {code, message, details}}` body."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (optimize with processes, multiprocessing pools).
        return (type(self), (self.status, self.code, self.message, self.details))


class InvalidRequest(APIError):
    pass


class Unauthorized(APIError):
    pass


class Forbidden(APIError):
    pass


class NotFound(APIError):
    pass


class Conflict(APIError):
    pass


class ServiceUnavailable(APIError):
    pass


class ServerError(APIError):
    pass


_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: InvalidRequest,
    422: InvalidRequest,
    502: ServiceUnavailable,
    503: ServiceUnavailable,
    504: ServiceUnavailable,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The APIError for an error response; a body that is not Hone's (a proxy's page) still gives one."""
    status = response.status_code
    try:
        error = response.json()["error"]
        code, message, details = str(error["code"]), str(error["message"]), error.get("details")
    except (ValueError, KeyError, TypeError):
        code = f"http_{status}"
        message = response.reason_phrase or response.text[:200] or "no message"
        details = None
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    return cls(status, code, message, details)
