"""What the client tests share: a study's space in every accepted form, and a tap on the in-process app."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import hone
import httpx

SPACE = [
    hone.Float("lr", 1e-4, 1, scale="log"),
    hone.Float("beta", 0.9, 0.999, scale="reverse_log"),
    hone.Int("layers", 1, 4),
    hone.Categorical("optimizer", ["sgd", "adam"]),
    hone.Float("momentum", 0.5, 0.99, condition=("optimizer", ["sgd"])),
]


def loss(params: Mapping[str, Any]) -> float:
    """A made-up objective: every test can recompute it from a trial's params."""
    return math.log10(params["lr"]) ** 2 + (1 - params["beta"]) * 10 + params["layers"] / 10


class Tap(httpx.BaseTransport):
    """The real app, in process, behind a tap that records every request and sees every answer.

    `after(request, response)` runs once the app has answered; it may act (restart Redis) or
    raise an httpx error, so that the client sees a connection reset after the server acted.
    """

    def __init__(self, app: Any, after: Callable[[httpx.Request, httpx.Response], None] | None = None) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.after = after
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.inner.handle_request(request)
        if self.after is not None:
            response.read()
            self.after(request, response)
        return response


def client_for(tap: Tap, **kwargs: Any) -> hone.Client:
    return hone.Client("http://hone.test", transport=tap, **kwargs)
