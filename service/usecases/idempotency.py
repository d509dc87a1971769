"""Idempotency-Key for the writes that have no Lua script of their own (create, delete,
heartbeat, report, enqueue): a retried request gets the first answer.

Why two mechanisms share one stored form. Ask and tell hold the key inside ask.lua, commit.lua
and tell.lua, so that the hot path stays one Redis round trip per ask and per tell. The other
writes are rare; they hold the key around the whole use case (begin, run, finish) at the cost of
two more round trips. Both store `fingerprint|kind:answer` (built in storage/store.py) and are
checked by one function, `check_replay`.
"""

from __future__ import annotations

from ..domain.stored import Idempotency
from ..storage.store import Store
from .ask_tell import check_replay


class Replays:
    def __init__(self, store: Store) -> None:
        self.store = store

    def begin(self, study: str, idempotency: Idempotency) -> str | None:
        """None: go ahead, the key is held until `finish` or `abort`. Otherwise the stored
        answer to send back; Conflict when the key is busy or was used for another request."""
        replay = self.store.idempotency_begin(study, idempotency)
        return None if replay is None else check_replay(replay, idempotency, "http")

    def finish(self, study: str, idempotency: Idempotency, answer: str) -> None:
        self.store.idempotency_finish(study, idempotency, "http", answer)

    def abort(self, study: str, idempotency: Idempotency) -> None:
        self.store.idempotency_abort(study, idempotency)
