"""The ask/tell use cases: hand out configurations, record outcomes, keep leases alive."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..config import Limits
from ..domain.errors import Conflict, InvalidInput, StorageUnavailable
from ..domain.trial import TOLD_STATES, Outcome, Trial, TrialState
from ..metrics import REOFFERED, REPLAYS, ZOOMS
from ..samplers import Draw, SamplerState, Scored
from ..storage.records import (
    StoredTrial,
    ask_record,
    decode_stored,
    decode_trial,
    draw_fields,
    parse_enqueued,
    result_body,
)
from ..storage.store import Prepared, Replay, Reservation, Slot, Store
from .studies import Studies, StudyHandle

MAX_REDRAWS = 32  # a batch with more duplicates than this comes from a space too small for it
# Draws computed ahead by an ask that had to reserve: the next asks of one trial each take them
# in a single Redis round trip, so only about one ask in PREPARE_AHEAD + 1 needs two.
PREPARE_AHEAD = 16


@dataclass(frozen=True)
class Idempotency:
    """A client's Idempotency-Key and a fingerprint of the request it came with."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class _Filled:
    number: int
    packed: list[Any]
    source: str
    level: int | None
    attempt: int = 0
    retry_of: int | None = None
    retry_failed: bool = False

    def fields(self) -> str:
        return draw_fields(
            self.packed,
            source=self.source,
            level=self.level,
            attempt=self.attempt,
            retry_of=self.retry_of,
            retry_failed=self.retry_failed,
        )


def _drawn(handle: StudyHandle, draw: Draw, state: SamplerState) -> _Filled:
    """A fresh draw of the study's sampler, labelled with where it came from."""
    sampler = handle.sampler
    packed = handle.spec.space.pack(sampler.suggest(draw, state))
    return _Filled(draw.number, packed, sampler.name, state.level, retry_failed=sampler.retries_failed)


def _answer_prefix(idempotency: Idempotency | None) -> str:
    """What an ask's Idempotency-Key stores, up to the trial numbers."""
    return f"{idempotency.fingerprint}|ask:" if idempotency else ""


def check_replay(replay: Replay, idempotency: Idempotency, kind: str) -> str:
    """The stored answer of a replayed request; refuses a key reused for a different request."""
    answer_kind, _, answer = replay.answer.partition(":")
    if replay.fingerprint != idempotency.fingerprint or answer_kind != kind:
        raise Conflict("this Idempotency-Key was already used for a different request", code="idempotency_key_reused")
    REPLAYS.inc()
    return answer


class AskTell:
    def __init__(self, studies: Studies, store: Store, limits: Limits) -> None:
        self.studies = studies
        self.store = store
        self.limits = limits

    # -- ask ---------------------------------------------------------------------------------

    def ask(
        self,
        name: str,
        count: int = 1,
        *,
        worker: str | None = None,
        resume: bool = False,
        lease_seconds: float | None = None,
        idempotency: Idempotency | None = None,
    ) -> list[Trial]:
        if not 1 <= count <= self.limits.max_ask_count:
            raise InvalidInput(f"count must be between 1 and {self.limits.max_ask_count}", code="invalid_count")
        if resume and not worker:
            raise InvalidInput("resume needs the worker id whose trials to resume", code="invalid_resume")

        def run(handle: StudyHandle) -> list[Trial]:
            lease_ms = int((lease_seconds or handle.spec.lease_seconds) * 1000)
            reserved = self.store.reserve(
                handle.keys,
                count,
                worker=worker or "",
                resume=resume,
                lease_ms=lease_ms,
                max_trials=self.limits.max_trials_per_study,
                idempotency=idempotency.key if idempotency else None,
                answer_prefix=_answer_prefix(idempotency),
            )
            if isinstance(reserved, StoredTrial):
                return [decode_stored(reserved, handle.spec.space)]
            if isinstance(reserved, Replay):
                assert idempotency is not None
                numbers = check_replay(reserved, idempotency, "ask")
                return self.load(handle, [int(n) for n in numbers.split(",")])
            if isinstance(reserved, list):
                return self.load(handle, reserved)
            return self._fill_and_commit(handle, reserved, worker, lease_ms, idempotency)

        return self.studies.with_handle(name, run)

    def _fill_and_commit(
        self,
        handle: StudyHandle,
        reserved: Reservation,
        worker: str | None,
        lease_ms: int,
        idempotency: Idempotency | None,
    ) -> list[Trial]:
        moved = self._advance(handle, reserved)
        seen: set[str] = set()
        filled = [self._fill(handle, reserved, slot, seen) for slot in reserved.slots]
        records = [
            (
                f.number,
                ask_record(f.fields(), worker=worker, asked_ms=reserved.now_ms),
            )
            for f in filled
        ]
        answer = _answer_prefix(idempotency) + ",".join(str(f.number) for f in filled) if idempotency else ""
        deadline_ms, lost = self.store.commit(
            handle.keys,
            records,
            lease_ms=lease_ms,
            idempotency=idempotency.key if idempotency else None,
            answer=answer,
            # After a zoom this reservation's state is already old: nothing to prepare from it.
            prepared=() if moved else self._prepare(handle, reserved),
        )
        trials = [
            Trial(
                number=f.number,
                params=handle.spec.space.unpack(f.packed),
                state=TrialState.RUNNING,
                value=None,
                worker=worker,
                asked_at=reserved.now_ms / 1000,
                finished_at=None,
                source=f.source,
                level=f.level,
                attempt=f.attempt,
                retry_of=f.retry_of,
                lease_expires_at=deadline_ms / 1000,
            )
            for f in filled
            if f.number not in lost
        ]
        if not trials:
            # Only a process stalled past the reservation time gets here; its slots were requeued.
            raise StorageUnavailable("the ask outlived its reservation; ask again", code="ask_timed_out")
        return trials

    def _advance(self, handle: StudyHandle, reserved: Reservation) -> bool:
        """Let the sampler move to a new level; the compare-and-set makes one racing ask win.
        True when the level changed (by this ask or, it turned out, a racing one).

        This reservation was counted at its own level and is filled with that level's state.
        """
        space = handle.spec.space

        def top(k: int) -> list[Scored]:
            trials = [decode_stored(row, space) for row in self.store.top(handle.keys, handle.spec.direction.value, k)]
            return [Scored(space.encode(t.params), t.value) for t in trials if t.value is not None]

        move = handle.sampler.advance(reserved.state, reserved.level_asked, reserved.level_done, top)
        if move is None:
            return False
        region = {"by": handle.sampler.name, "note": move.note, "state": move.data}
        if self.store.advance(handle.keys, reserved.state.version, json.dumps(move.data), json.dumps(region)):
            ZOOMS.inc()
        return True

    def _prepare(self, handle: StudyHandle, reserved: Reservation) -> list[Prepared]:
        """The draws the next asks will take if nothing intervenes, as far as the sampler's
        level cannot change on the way."""
        sampler, state = handle.sampler, reserved.state
        size = sampler.size()
        prepared = []
        for ahead in range(PREPARE_AHEAD):
            number, index = reserved.next_number + ahead, reserved.next_draw + ahead
            if (size is not None and index >= size) or not sampler.settled(state, index):
                break
            drawn = _drawn(handle, Draw(number, index), state)
            prepared.append(Prepared(state.version, number, index, drawn.fields()))
        return prepared

    def _fill(self, handle: StudyHandle, reserved: Reservation, slot: Slot, seen: set[str]) -> _Filled:
        space = handle.spec.space
        if slot.kind == "retry" and slot.payload:
            REOFFERED.inc()
            original = json.loads(slot.payload)
            packed = original["p"]
            seen.add(json.dumps(packed))
            return _Filled(
                slot.number,
                packed,
                original["o"],
                original.get("l"),
                attempt=original.get("a", 0) + 1,
                retry_of=slot.ident,
                retry_failed=bool(original.get("rf")),
            )
        if slot.kind == "enqueued" and slot.payload:
            params, source = parse_enqueued(slot.payload)
            packed = space.pack(params)
            seen.add(json.dumps(packed))
            return _Filled(slot.number, packed, source, None, retry_failed=True)
        for attempt in range(MAX_REDRAWS):
            drawn = _drawn(handle, Draw(slot.number, slot.ident, attempt), reserved.state)
            key = json.dumps(drawn.packed)
            if key not in seen:
                break
        seen.add(key)
        return drawn

    # -- tell --------------------------------------------------------------------------------

    def tell(self, name: str, number: int, outcome: Outcome, *, idempotency: Idempotency | None = None) -> Trial:
        if outcome.state not in TOLD_STATES:
            raise InvalidInput("state must be complete, failed or pruned", code="invalid_state")
        if outcome.state is TrialState.COMPLETE and outcome.value is None:
            raise InvalidInput("a complete trial needs a value", code="missing_value")

        def run(handle: StudyHandle) -> Trial:
            answer = f"{idempotency.fingerprint}|tell:{number}" if idempotency else ""
            told = self.store.tell(
                handle.keys,
                number,
                state=outcome.state.value,
                value=outcome.value,
                body=result_body(outcome),
                direction=handle.spec.direction.value,
                idempotency=idempotency.key if idempotency else None,
                answer=answer,
            )
            if isinstance(told, Replay):
                assert idempotency is not None
                return self.load(handle, [int(check_replay(told, idempotency, "tell"))])[0]
            trial = decode_trial(number, told.record, handle.spec.space, note=told.note)
            if told.status == "reoffered":
                raise Conflict(
                    f"trial {number} expired and its configuration was handed to another trial; "
                    "this result was not recorded",
                    code="trial_expired",
                )
            if told.status == "told" and not trial.outcome.same_as(outcome):
                raise Conflict(
                    f"trial {number} is already {trial.state.value}"
                    + (f" with value {trial.value}" if trial.value is not None else "")
                    + "; a trial is told once",
                    code="trial_finished",
                    details={"state": trial.state.value, "value": trial.value},
                )
            return trial

        return self.studies.with_handle(name, run)

    def heartbeat(self, name: str, number: int, lease_seconds: float | None = None) -> Trial:
        def run(handle: StudyHandle) -> Trial:
            lease_ms = int((lease_seconds or handle.spec.lease_seconds) * 1000)
            status, stored = self.store.heartbeat(handle.keys, number, lease_ms)
            trial = decode_stored(stored, handle.spec.space)
            if status == "finished":
                code = "trial_expired" if trial.state is TrialState.EXPIRED else "trial_finished"
                raise Conflict(f"trial {number} is {trial.state.value}; there is no lease to renew", code=code)
            return trial

        return self.studies.with_handle(name, run)

    def load(self, handle: StudyHandle, numbers: list[int]) -> list[Trial]:
        return [decode_stored(stored, handle.spec.space) for stored in self.store.records(handle.keys, numbers)]
