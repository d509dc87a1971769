"""`@idempotent` on a view: a retried request with the same Idempotency-Key gets the first answer.

Ask and tell keep their keys inside their own Lua scripts (see usecases/idempotency.py for why);
this decorator serves the other writes. `@idempotent` keeps the answer under the study's name
(create, delete, enqueue): it outlives a delete, so a replayed DELETE answers as it first did
and never deletes a study created again since. `@idempotent_on_trial` keeps it with the
incarnation the trial id in the path names (heartbeat, report): swept with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response

from ..domain.trial import TrialRef
from .context import idempotency, services


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    return _once(view, lambda kwargs: None)


def idempotent_on_trial(view: Callable[..., Any]) -> Callable[..., Any]:
    def incarnation(kwargs: dict[str, Any]) -> str | None:
        ref = TrialRef.parse(kwargs["trial_id"])
        return ref.incarnation if ref else None  # the view refuses an id that names no trial

    return _once(view, incarnation)


def _once(view: Callable[..., Any], incarnation_of: Callable[[dict[str, Any]], str | None]) -> Callable[..., Any]:
    @functools.wraps(view)
    def once(*args: Any, **kwargs: Any) -> Any:
        key = idempotency()
        if key is None:
            return view(*args, **kwargs)
        replays, study, incarnation = services().replays, kwargs["name"], incarnation_of(kwargs)
        stored = replays.begin(study, incarnation, key)
        if stored is not None:
            status, _, body = stored.partition("|")
            return Response(body, status=int(status), mimetype="application/json")
        try:
            response: Response = view(*args, **kwargs)
        except BaseException:
            replays.abort(study, incarnation, key)
            raise
        if response.status_code < 300:
            replays.finish(study, incarnation, key, f"{response.status_code}|{response.get_data(as_text=True)}")
        else:
            replays.abort(study, incarnation, key)
        return response

    return once
