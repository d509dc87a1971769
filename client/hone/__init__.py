"""Hone's Python client: ask a Hone server for hyperparameters, tell it the results.

import hone

with hone.Client("http://127.0.0.1:8000") as client:
    study = client.study("mnist", space=[hone.Float("lr", 1e-4, 1, scale="log")])
    for _ in range(20):
        with study.ask() as trial:
            trial.tell(train(**trial.params))
"""

# No `from __future__ import annotations` here: it would add a public name, and nothing here is annotated.
from ._exceptions import (
    APIError,
    Conflict,
    Forbidden,
    HoneError,
    InvalidRequest,
    NotFound,
    ObjectiveFailed,
    ServerError,
    ServiceUnavailable,
    TransportError,
    Unauthorized,
)
from ._version import __version__
from .client import Client, ClientSettings
from .models import FrozenTrial, Importance, StudyInfo, TrialState
from .space import Categorical, Float, Int, Param, load_space
from .study import Study
from .trial import Trial

__all__ = [
    "APIError",
    "Categorical",
    "Client",
    "ClientSettings",
    "Conflict",
    "Float",
    "Forbidden",
    "FrozenTrial",
    "HoneError",
    "Importance",
    "Int",
    "InvalidRequest",
    "NotFound",
    "ObjectiveFailed",
    "Param",
    "ServerError",
    "ServiceUnavailable",
    "Study",
    "StudyInfo",
    "TransportError",
    "Trial",
    "TrialState",
    "Unauthorized",
    "__version__",
    "load_space",
]
