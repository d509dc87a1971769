"""`@requires(Scope.WRITE)` on a view: check the bearer token before anything else runs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g, request

from ..access import Scope, Token
from .context import services


def bearer_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else None


def requires(scope: Scope) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            g.token = services().access.authorize(bearer_secret(), scope, kwargs.get("name"))
            return view(*args, **kwargs)

        return checked

    return decorate


def current_token() -> Token | None:
    token: Token | None = g.get("token")
    return token
