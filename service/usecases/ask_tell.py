"""The ask/tell use cases: hand out configurations, record outcomes, keep leases alive."""

from __future__ import annotations

import json

from ..config import Limits
from ..domain.errors import Conflict, InvalidInput, StorageUnavailable
from ..domain.stored import (
    AlreadyTold,
    DrawRecord,
    Handed,
    Idempotency,
    Prepared,
    RegionRecord,
    Reoffered,
    Replay,
    Replayed,
    Reserved,
    Resumed,
    SamplerState,
    Slot,
    StoredTrial,
)
from ..domain.trial import TOLD_STATES, Outcome, Trial, TrialState
from ..metrics import REOFFERED, REPLAYS, ZOOMS
from ..samplers import Draw, Scored
from ..storage.store import Store
from .studies import Studies, StudyHandle, on_study

MAX_REDRAWS = 32  # a batch with more duplicates than this comes from a space too small for it
# Draws computed ahead by an ask that had to reserve: the next asks of one trial each take them
# in a single Redis round trip, so only about one ask in PREPARE_AHEAD + 1 needs two.
PREPARE_AHEAD = 16


def _drawn(handle: StudyHandle, draw: Draw, state: SamplerState) -> DrawRecord:
    """A fresh draw of the study's sampler, labelled with where it came from."""
    sampler = handle.sampler
    packed = handle.spec.space.pack(sampler.suggest(draw, state))
    return DrawRecord(packed, sampler.name, state.level, retry_failed=sampler.retries_failed)


def check_replay(replay: Replay, idempotency: Idempotency, kind: str) -> str:
    """The stored answer of a replayed request; refuses a key reused for a different request."""
    if replay.fingerprint != idempotency.fingerprint or replay.kind != kind:
        raise Conflict("this Idempotency-Key was already used for a different request", code="idempotency_key_reused")
    REPLAYS.inc()
    return replay.answer


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
        return self._ask(name, count, worker, resume, lease_seconds, idempotency)

    @on_study
    def _ask(
        self,
        handle: StudyHandle,
        count: int,
        worker: str | None,
        resume: bool,
        lease_seconds: float | None,
        idempotency: Idempotency | None,
    ) -> list[Trial]:
        lease_ms = int((lease_seconds or handle.spec.lease_seconds) * 1000)
        reply = self.store.reserve(
            handle.keys,
            count,
            worker=worker or "",
            resume=resume,
            lease_ms=lease_ms,
            max_trials=self.limits.max_trials_per_study,
            idempotency=idempotency,
        )
        match reply:
            case Handed(trial):
                return [trial.to_trial(handle.spec.space)]
            case Replayed(replay):
                assert idempotency is not None
                numbers = check_replay(replay, idempotency, "ask")
                return self.load(handle, [int(n) for n in numbers.split(",")])
            case Resumed(numbers):
                return self.load(handle, list(numbers))
            case Reserved():
                return self._fill_and_commit(handle, reply, worker, lease_ms, idempotency)

    def _fill_and_commit(
        self,
        handle: StudyHandle,
        reserved: Reserved,
        worker: str | None,
        lease_ms: int,
        idempotency: Idempotency | None,
    ) -> list[Trial]:
        moved = self._advance(handle, reserved)
        seen: set[str] = set()
        filled = [(slot.number, self._fill(handle, reserved, slot, seen)) for slot in reserved.slots]
        deadline_ms, lost = self.store.commit(
            handle.keys,
            filled,
            worker=worker,
            asked_ms=reserved.now_ms,
            lease_ms=lease_ms,
            idempotency=idempotency,
            # After a zoom this reservation's state is already old: nothing to prepare from it.
            prepared=() if moved else self._prepare(handle, reserved),
        )
        trials = [
            StoredTrial(number, draw, reserved.now_ms, worker, TrialState.RUNNING, deadline_ms=deadline_ms).to_trial(
                handle.spec.space
            )
            for number, draw in filled
            if number not in lost
        ]
        if not trials:
            # Only a process stalled past the reservation time gets here; its slots were requeued.
            raise StorageUnavailable("the ask outlived its reservation; ask again", code="ask_timed_out")
        return trials

    def _advance(self, handle: StudyHandle, reserved: Reserved) -> bool:
        """Let the sampler move to a new level; the compare-and-set makes one racing ask win.
        True when the level changed (by this ask or, it turned out, a racing one).

        This reservation was counted at its own level and is filled with that level's state.
        """
        space = handle.spec.space

        def top(k: int) -> list[Scored]:
            best = self.store.top(handle.keys, handle.spec.direction.value, k)
            trials = [stored.to_trial(space) for stored in best]
            return [Scored(space.encode(t.params), t.value) for t in trials if t.value is not None]

        move = handle.sampler.advance(reserved.state, reserved.level_asked, reserved.level_done, top)
        if move is None:
            return False
        region = RegionRecord(by=handle.sampler.name, note=move.note, state=move.data)
        if self.store.advance(handle.keys, reserved.state.version, region):
            ZOOMS.inc()
        return True

    def _prepare(self, handle: StudyHandle, reserved: Reserved) -> list[Prepared]:
        """The draws the next asks will take if nothing intervenes, as far as the sampler's
        level cannot change on the way."""
        sampler, state = handle.sampler, reserved.state
        size = sampler.size()
        prepared = []
        for ahead in range(PREPARE_AHEAD):
            number, index = reserved.next_number + ahead, reserved.next_draw + ahead
            if (size is not None and index >= size) or not sampler.settled(state, index):
                break
            prepared.append(Prepared(state.version, number, index, _drawn(handle, Draw(number, index), state)))
        return prepared

    def _fill(self, handle: StudyHandle, reserved: Reserved, slot: Slot, seen: set[str]) -> DrawRecord:
        if slot.retried is not None:
            REOFFERED.inc()
            seen.add(json.dumps(slot.retried.packed))
            return slot.retried
        if slot.enqueued is not None:
            packed = handle.spec.space.pack(slot.enqueued)
            seen.add(json.dumps(packed))
            return DrawRecord(packed, "enqueued", None, retry_failed=True)
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
        return self._tell(name, number, outcome, idempotency)

    @on_study
    def _tell(self, handle: StudyHandle, number: int, outcome: Outcome, idempotency: Idempotency | None) -> Trial:
        reply = self.store.tell(
            handle.keys, number, outcome, direction=handle.spec.direction.value, idempotency=idempotency
        )
        if isinstance(reply, Replayed):
            assert idempotency is not None
            return self.load(handle, [int(check_replay(reply.replay, idempotency, "tell"))])[0]
        trial = reply.trial.to_trial(handle.spec.space)
        if isinstance(reply, Reoffered):
            raise Conflict(
                f"trial {number} expired and its configuration was handed to another trial; "
                "this result was not recorded",
                code="trial_expired",
            )
        if isinstance(reply, AlreadyTold) and not trial.outcome.same_as(outcome):
            raise Conflict(
                f"trial {number} is already {trial.state.value}"
                + (f" with value {trial.value}" if trial.value is not None else "")
                + "; a trial is told once",
                code="trial_finished",
                details={"state": trial.state.value, "value": trial.value},
            )
        return trial

    @on_study
    def heartbeat(self, handle: StudyHandle, number: int, lease_seconds: float | None = None) -> Trial:
        lease_ms = int((lease_seconds or handle.spec.lease_seconds) * 1000)
        trial = self.store.heartbeat(handle.keys, number, lease_ms).to_trial(handle.spec.space)
        if trial.state is not TrialState.RUNNING:
            code = "trial_expired" if trial.state is TrialState.EXPIRED else "trial_finished"
            raise Conflict(f"trial {number} is {trial.state.value}; there is no lease to renew", code=code)
        return trial

    def load(self, handle: StudyHandle, numbers: list[int]) -> list[Trial]:
        return [stored.to_trial(handle.spec.space) for stored in self.store.records(handle.keys, numbers)]
