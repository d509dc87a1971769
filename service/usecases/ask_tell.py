"""The ask/tell use cases: hand out configurations, record outcomes, keep leases alive."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from ..config import Limits
from ..domain.errors import Conflict, InvalidInput, StorageUnavailable
from ..domain.stored import (
    Ahead,
    AlreadyTold,
    CommitReply,
    DrawRecord,
    Filled,
    Handed,
    Idempotency,
    LevelMove,
    Prepared,
    Ranking,
    RegionRecord,
    Reoffered,
    Repeated,
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
from .studies import Studies, StudyHandle, on_study, on_trial

MAX_REDRAWS = 32  # a batch with more duplicates than this comes from a space too small for it
# Commits refused because a fresh draw repeated a trial's configuration, each followed by new
# draws, before a repeat is taken as what it is: the region has no other point left. Rounds times
# redraws stay below 256, the draw attempts a sampler's seed has room for.
COMMIT_ROUNDS = 4
REPEAT = "repeat"  # the source of a trial whose region had no configuration left that no trial had
# Draws computed ahead by an ask that had to reserve: the next asks of one trial each take them
# in a single Redis round trip. While they are computed, every ask needs two round trips, and the
# more trials run the more such asks race a preparation: so PREPARE_AHEAD, plus two for each
# running trial, up to PREPARE_MAX. A level its sampler will judge gets no more than the asks it
# is likely to see (its judge point's asked count, plus two for each running trial: they delay
# its finished count, and race its judging), at least PREPARE_MIN: draws past that belong to a
# level already left. Two per running trial measured 510 pairs/s against 367 with one at 16
# workers (bench/load.py's workload, one run each).
PREPARE_AHEAD = 16
PREPARE_MAX = 64
PREPARE_MIN = 8


# Unit points of top trials one process keeps: a zoom reads the best trials again, most of them
# the same as at the last zoom, and decoding and encoding them all cost more than its draws.
UNIT_CACHE = 16_384


class _Units:
    """Unit-cube points of stored trials by incarnation and number. A trial's params never change
    once stored, so a point once encoded stays right; the least recently used are dropped."""

    def __init__(self, limit: int) -> None:
        self._points: OrderedDict[tuple[str, int], Sequence[float | None]] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def known(self, uid: str, numbers: Sequence[int]) -> dict[int, Sequence[float | None]]:
        with self._lock:
            found = {}
            for number in numbers:
                point = self._points.get((uid, number))
                if point is not None:
                    self._points.move_to_end((uid, number))
                    found[number] = point
            return found

    def add(self, uid: str, number: int, point: Sequence[float | None]) -> None:
        with self._lock:
            self._points[(uid, number)] = point
            while len(self._points) > self._limit:
                self._points.popitem(last=False)


@dataclass(frozen=True)
class _From:
    """Where the draws prepared ahead start: the state they are drawn at, and the trial number
    and draw index of the next ask."""

    state: SamplerState
    number: int
    index: int
    asked: int  # trials of the state's level asked so far
    running: int


@dataclass(frozen=True)
class _Choice:
    """What fills a reserved slot. A fresh draw keeps the sampler's Draw.attempt that gave it,
    so a redraw after a repeat goes on from the next attempt."""

    slot: Slot
    filled: Filled
    draw_attempt: int = 0


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
        self._units = _Units(UNIT_CACHE)

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
            best_read=handle.sampler.top_read,
            direction=handle.spec.direction.value,
        )
        match reply:
            case Handed(trial):
                return [trial.to_trial(handle.spec.space, handle.uid)]
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
        start, move = self._advance(handle, reserved)
        seen: set[str] = set()
        choices = [self._fill(handle, reserved, slot, seen) for slot in reserved.slots]
        ahead = None if start is None else self._prepare(handle, start)

        def commit() -> CommitReply:
            return self.store.commit(
                handle.keys,
                [choice.filled for choice in choices],
                worker=worker,
                asked_ms=reserved.now_ms,
                lease_ms=lease_ms,
                idempotency=idempotency,
                ahead=ahead,
                move=move,
            )

        reply, rounds = commit(), 0
        while isinstance(reply, Repeated):
            # Rare: a draw met a configuration another trial has (a small discrete region, a
            # prepared draw handed out meanwhile). From round COMMIT_ROUNDS - 1 on, a refused
            # round makes its repeats final, so the loop ends.
            final = rounds >= COMMIT_ROUNDS - 1
            choices = [
                self._redrawn(handle, reserved, choice, seen, final=final)
                if choice.slot.number in reply.numbers
                else choice
                for choice in choices
            ]
            reply, rounds = commit(), rounds + 1
        if reply.moved:
            ZOOMS.inc()
        trials = [
            StoredTrial(
                choice.filled.number,
                choice.filled.draw,
                reserved.now_ms,
                worker,
                TrialState.RUNNING,
                deadline_ms=reply.deadline_ms,
            ).to_trial(handle.spec.space, handle.uid)
            for choice in choices
            if choice.filled.number not in reply.lost
        ]
        if not trials:
            # Only a process stalled past the reservation time gets here; its slots were requeued.
            raise StorageUnavailable("the ask outlived its reservation; ask again", code="ask_timed_out")
        return trials

    def _advance(self, handle: StudyHandle, reserved: Reserved) -> tuple[_From | None, LevelMove | None]:
        """Let the sampler decide whether to move to a new level when ask.lua says this ask may
        judge it. Returns where the draws this ask prepares start (after the reservation at its
        own level when the level stays, the new level's first draw when it moves; None when
        another ask prepares this version's draws), and the move for the commit to make: a
        compare-and-set there, so of racing asks one moves, and in the same step as the new
        level's first draws, so no ask finds the new level without them.

        This reservation was counted at its own level and is filled with that level's state.
        """
        space = handle.spec.space

        def top(k: int, ranking: Ranking) -> list[Scored]:
            best = reserved.best
            if best is not None and best.serves(k, ranking):
                ranked = list(best.ranked[:k])  # read with the reservation
            else:
                ranked = self.store.ranked(handle.keys, handle.spec.direction.value, k, ranking)
                best = None
            # Only the unit point and the value, and only trials this process has not encoded before.
            points = self._units.known(handle.uid, [number for number, _ in ranked])
            unseen = [n for n, _ in ranked if n not in points]
            draws = {n: best.draws[n] for n in unseen} if best is not None else self.store.draws(handle.keys, unseen)
            for number, draw in draws.items():
                points[number] = space.encode(space.unpack(draw.packed))
                self._units.add(handle.uid, number, points[number])
            return [Scored(points[number], value) for number, value in ranked if number in points]

        state = reserved.state
        stay = None
        if reserved.prepare:
            stay = _From(state, reserved.next_number, reserved.next_draw, reserved.progress.asked, reserved.running)
        if not reserved.judge:
            return stay, None
        decided = handle.sampler.advance(state, reserved.progress, top)
        if decided is None:
            return stay, None
        region = RegionRecord(by=handle.sampler.name, note=decided.note, state=decided.data)
        move = LevelMove(state.version, region, level_start=reserved.next_draw)
        moved = SamplerState(state.level + 1, state.version + 1, reserved.next_draw, decided.data)
        return _From(moved, reserved.next_number, reserved.next_draw, 0, reserved.running), move

    def _prepare(self, handle: StudyHandle, start: _From) -> Ahead:
        """The draws the next asks will take from `start` if nothing intervenes; ask.lua hands
        them out until the level reaches its judge point. After a zoom they are the new level's
        first draws, so the ask after a zoom is a single round trip too."""
        sampler, state = handle.sampler, start.state
        judge = sampler.judged_at(state)
        count = min(PREPARE_MAX, PREPARE_AHEAD + 2 * start.running)
        if judge is not None:
            count = min(count, max(PREPARE_MIN, judge.asked + 2 * start.running - start.asked))
        if (size := sampler.size()) is not None:
            count = max(0, min(count, size - start.index))
        draws = tuple(
            Prepared(number, index, _drawn(handle, Draw(number, index), state))
            for number, index in zip(
                range(start.number, start.number + count), range(start.index, start.index + count), strict=True
            )
        )
        return Ahead(state.version, judge, draws)

    def _fill(self, handle: StudyHandle, reserved: Reserved, slot: Slot, seen: set[str]) -> _Choice:
        if slot.retried is not None:
            REOFFERED.inc()
            seen.add(json.dumps(slot.retried.packed))
            return _Choice(slot, Filled(slot.number, slot.retried, fresh=False))
        if slot.enqueued is not None:
            packed = handle.spec.space.pack(slot.enqueued)
            seen.add(json.dumps(packed))
            enqueued = DrawRecord(packed, slot.enqueued_by, None, retry_failed=True)
            return _Choice(slot, Filled(slot.number, enqueued, fresh=False))
        return self._distinct(handle, reserved, slot, range(MAX_REDRAWS), seen)

    def _distinct(
        self, handle: StudyHandle, reserved: Reserved, slot: Slot, attempts: range, seen: set[str]
    ) -> _Choice:
        """The first of these draw attempts whose params the batch does not hold yet (else the last)."""
        for attempt in attempts:
            drawn = _drawn(handle, Draw(slot.number, slot.ident, attempt), reserved.state)
            key = json.dumps(drawn.packed)
            if key not in seen:
                break
        seen.add(key)
        return _Choice(slot, Filled(slot.number, drawn), attempt)

    def _redrawn(
        self, handle: StudyHandle, reserved: Reserved, repeated: _Choice, seen: set[str], *, final: bool
    ) -> _Choice:
        """Another draw for a trial whose params some trial already has; when `final`, the
        repeat stands, labelled as one."""
        if final:
            draw = dataclasses.replace(repeated.filled.draw, source=REPEAT)
            return dataclasses.replace(repeated, filled=Filled(repeated.slot.number, draw, fresh=False))
        first = repeated.draw_attempt + 1
        return self._distinct(handle, reserved, repeated.slot, range(first, first + MAX_REDRAWS), seen)

    # -- tell --------------------------------------------------------------------------------

    def tell(self, name: str, trial_id: str, outcome: Outcome, *, idempotency: Idempotency | None = None) -> Trial:
        """Record the outcome of the trial `trial_id` names: of that incarnation of the study only."""
        if outcome.state not in TOLD_STATES:
            raise InvalidInput("state must be complete, failed or pruned", code="invalid_state")
        if outcome.state is TrialState.COMPLETE and outcome.value is None:
            raise InvalidInput("a complete trial needs a value", code="missing_value")
        return self._tell(name, trial_id, outcome, idempotency)

    @on_trial
    def _tell(self, handle: StudyHandle, number: int, outcome: Outcome, idempotency: Idempotency | None) -> Trial:
        reply = self.store.tell(
            handle.keys, number, outcome, direction=handle.spec.direction.value, idempotency=idempotency
        )
        if isinstance(reply, Replayed):
            assert idempotency is not None
            return self.load(handle, [int(check_replay(reply.replay, idempotency, "tell"))])[0]
        trial = reply.trial.to_trial(handle.spec.space, handle.uid)
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

    @on_trial
    def heartbeat(self, handle: StudyHandle, number: int, lease_seconds: float | None = None) -> Trial:
        """Renew the lease of the trial a trial id names."""
        lease_ms = int((lease_seconds or handle.spec.lease_seconds) * 1000)
        trial = self.store.heartbeat(handle.keys, number, lease_ms).to_trial(handle.spec.space, handle.uid)
        if trial.state is not TrialState.RUNNING:
            code = "trial_expired" if trial.state is TrialState.EXPIRED else "trial_finished"
            raise Conflict(f"trial {number} is {trial.state.value}; there is no lease to renew", code=code)
        return trial

    def load(self, handle: StudyHandle, numbers: list[int]) -> list[Trial]:
        return [stored.to_trial(handle.spec.space, handle.uid) for stored in self.store.records(handle.keys, numbers)]
