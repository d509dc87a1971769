"""`@idempotent` on a view: a retried request with the same Idempotency-Key gets the first answer.

Ask and tell keep their keys inside their own Lua scripts (no extra round trip on the hot path);
this decorator serves the other writes: create, delete, heartbeat, report.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response

from ..usecases.ask_tell import check_replay
from .context import idempotency, services


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def once(*args: Any, **kwargs: Any) -> Any:
        key = idempotency()
        if key is None:
            return view(*args, **kwargs)
        store, study = services().store, kwargs["name"]
        replay = store.idempotency_begin(study, key.key)
        if replay is not None:
            status, _, body = check_replay(replay, key, "http").partition("|")
            return Response(body, status=int(status), mimetype="application/json")
        try:
            response: Response = view(*args, **kwargs)
        except BaseException:
            store.idempotency_abort(study, key.key)
            raise
        if response.status_code < 300:
            body = response.get_data(as_text=True)
            store.idempotency_finish(study, key.key, f"{key.fingerprint}|http:{response.status_code}|{body}")
        else:
            store.idempotency_abort(study, key.key)
        return response

    return once
