"""`@idempotent` on a view: a retried request with the same Idempotency-Key gets the first answer.

Ask and tell keep their keys inside their own Lua scripts (see usecases/idempotency.py for why);
this decorator serves the other writes: create, delete, heartbeat, report, enqueue.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response

from .context import idempotency, services


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def once(*args: Any, **kwargs: Any) -> Any:
        key = idempotency()
        if key is None:
            return view(*args, **kwargs)
        replays, study = services().replays, kwargs["name"]
        stored = replays.begin(study, key)
        if stored is not None:
            status, _, body = stored.partition("|")
            return Response(body, status=int(status), mimetype="application/json")
        try:
            response: Response = view(*args, **kwargs)
        except BaseException:
            replays.abort(study, key)
            raise
        if response.status_code < 300:
            replays.finish(study, key, f"{response.status_code}|{response.get_data(as_text=True)}")
        else:
            replays.abort(study, key)
        return response

    return once
