"""The only module that talks to Redis. It takes and returns frozen domain values
(`service/domain/stored.py`), decodes each script's reply once, and raises domain errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import redis

from ..domain.errors import (
    Conflict,
    InvalidInput,
    LimitExceeded,
    NotFound,
    StaleStudy,
    StorageUnavailable,
    StudyRecreated,
)
from ..domain.importance import Importance
from ..domain.stored import (
    Ahead,
    AlreadyTold,
    AskReply,
    BestTrials,
    CommitReply,
    Committed,
    DrawRecord,
    Filled,
    Finished,
    Handed,
    Idempotency,
    ImportChunk,
    LevelMove,
    LevelProgress,
    LevelRow,
    PortableTrial,
    QueuedSlot,
    Ranking,
    Recorded,
    RegionRecord,
    Reoffered,
    Repeated,
    Replay,
    Replayed,
    ReportPlan,
    ReportReply,
    Reserved,
    Resumed,
    SamplerState,
    Slot,
    SlotKind,
    StoredTrial,
    StudyHeader,
    TellReply,
    Verdict,
    WarmDropped,
)
from ..domain.trial import Outcome, TrialState
from ..metrics import REDIS_ERRORS, observe_expired
from .keys import STUDY_INDEX, StudyKeys, data_pattern, idempotency_key, staging_key, study_key
from .records import (
    ENQUEUED,
    StoredDraws,
    ask_record,
    config_fingerprint,
    config_mark,
    curve_member,
    decode_curve,
    decode_enqueued,
    decode_importance,
    decode_json,
    decode_portable,
    decode_region,
    decode_retried,
    decode_stored_draw,
    decode_trial,
    encode_enqueued,
    encode_importance,
    encode_json,
    encode_record,
    encode_region,
    encode_spec,
    judge_record,
    prepared_draw,
    region_members,
    result_members,
)
from .scripts import Scripts

EXPIRE_BATCH = 100  # leases expired per call: bounds a call's work after a long outage
RESERVATION_MS = 60_000  # an ask commits within milliseconds; a minute means its process died
# How long a retry with the same Idempotency-Key waits (409 request_in_progress) for the first
# attempt: that attempt answers in milliseconds, so after this its process is taken for dead.
PENDING_MS = 10_000
# How long an ask's claim to judge a level, or to prepare its draws, keeps other asks from doing
# the same: the claimer is done in milliseconds, so past this it is taken for dead.
CLAIM_MS = 2_000
IDEMPOTENCY_TTL_S = 86_400  # a retried request gets its first answer for a day
SWEEP_BATCH = 500
WARM_START = "warm_start"  # the source of a configuration a warm start carried over from an earlier study
# A cached answer outlives no study for long: one written just after its study was deleted (and
# swept) would otherwise stay forever.
CACHE_SECONDS = 86_400

_SLOT_KINDS = {"f": SlotKind.FRESH, "d": SlotKind.LOST_DRAW, "r": SlotKind.RETRY, "e": SlotKind.ENQUEUED}
_SLOT_LETTERS = {kind: letter for letter, kind in _SLOT_KINDS.items()}
_JSON_FIELDS = frozenset({"spec", "sstate", "warm_start", "imported"})  # header fields stored as JSON


def _answer(idempotency: Idempotency | None, kind: str, answer: str = "") -> str:
    """What an Idempotency-Key stores: `fingerprint|kind:answer` ('' without a key)."""
    return f"{idempotency.fingerprint}|{kind}:{answer}" if idempotency else ""


def _held(keys: StudyKeys, idempotency: Idempotency | None) -> list[str]:
    """The key an ask or a tell holds: one of the incarnation's, swept with it."""
    return [keys.idempotency(idempotency.key)] if idempotency else []


def _check_incarnation(keys: StudyKeys, status: str) -> None:
    """A script on one trial found the study deleted and created again since it was asked."""
    if status == "recreated":
        raise StudyRecreated(keys.name)


def _idempotency_key(name: str, incarnation: str | None, key: str) -> str:
    return StudyKeys(name, incarnation).idempotency(key) if incarnation else idempotency_key(name, key)


def _replay(stored: str) -> Replay:
    """A stored answer, `fingerprint|kind:answer`."""
    fingerprint, _, answer = stored.partition("|")
    kind, _, rest = answer.partition(":")
    return Replay(fingerprint, kind, rest)


def _best_trials(ranking: str, triples: Sequence[Any], read: int) -> BestTrials | None:
    """The best trials ask.lua read for an ask that judges its level: (number, value, record) triples."""
    if not ranking:
        return None
    numbers = [int(n) for n in triples[0::3]]
    return BestTrials(
        ranking=Ranking(ranking),
        ranked=tuple(zip(numbers, (float(v) for v in triples[1::3]), strict=True)),
        draws=StoredDraws(dict(zip(numbers, triples[2::3], strict=True))),
        complete=len(numbers) < read,
    )


def _slot(number: str, slot: str, payload: str) -> Slot:
    kind, ident = _SLOT_KINDS[slot[0]], int(slot[1:])
    if kind is SlotKind.RETRY and payload:
        return Slot(int(number), kind, ident, retried=decode_retried(payload, ident))
    if kind is SlotKind.ENQUEUED and payload:
        params, source = decode_enqueued(payload)
        return Slot(int(number), kind, ident, enqueued=params, enqueued_by=source)
    return Slot(int(number), kind, ident)


class Store:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.scripts = Scripts(client)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            REDIS_ERRORS.inc()
            raise StorageUnavailable(f"Redis is unreachable: {exc}") from exc
        except redis.ResponseError as exc:
            if "LOADING" in str(exc) or "MASTERDOWN" in str(exc) or "READONLY" in str(exc):
                REDIS_ERRORS.inc()
                raise StorageUnavailable(f"Redis is not ready: {exc}") from exc
            raise

    def ping(self) -> bool:
        with self._guard():
            return bool(self.client.ping())

    # -- studies ---------------------------------------------------------------------------

    def create_study(
        self,
        name: str,
        uid: str,
        spec: Mapping[str, Any],
        seed: int,
        max_retries: int,
        draw_limit: int | None,
        state: Mapping[str, Any],
        *,
        warm_start: Mapping[str, Any] | None = None,
        queued: Sequence[Mapping[str, Any]] = (),
    ) -> Mapping[str, Any] | None:
        """None when created; the stored spec when the name is taken. A warm start's report and
        its configurations (best first, alternating with fresh draws) are stored in the same step,
        so no ask sees the study without them."""
        keys = StudyKeys(name, uid)
        with self._guard():
            status, value = self.scripts.create(
                keys=[keys.study, keys.enqueued, keys.warm],
                args=[
                    uid,
                    encode_spec(spec),
                    seed,
                    max_retries,
                    "" if draw_limit is None else draw_limit,
                    encode_json(state),
                    "" if warm_start is None else encode_json(warm_start),
                    *(encode_enqueued(params, WARM_START) for params in queued),
                ],
            )
            # The index is in another cluster slot; a crash between the two is mended by the next PUT.
            self.client.zadd(STUDY_INDEX, {name: 0}, nx=True)
        return None if status == "created" else decode_json(value)

    def header(self, name: str) -> StudyHeader | None:
        """The study's header; None when there is no study of this name."""
        with self._guard():
            fields = self.client.hgetall(study_key(name))
        if not fields:
            return None
        limit = fields.get("draw_limit")
        dropped = fields.get("wdrop")  # "<configurations> <trial number>", written by tell.lua
        return StudyHeader(
            name=name,
            uid=fields["uid"],
            spec=decode_json(fields["spec"]),
            created_ms=int(fields["created"]),
            seed=int(fields["seed"]),
            paused=fields.get("paused") == "1",
            counts={k[2:]: int(v) for k, v in fields.items() if k.startswith("n_")},
            trials_total=int(fields.get("seq", 0)),
            state=SamplerState(
                level=int(fields.get("level", 0)),
                version=int(fields.get("sver", 0)),
                level_start=int(fields.get("lstart", 0)),
                data=decode_json(fields.get("sstate", "{}")),
            ),
            note=fields.get("note"),
            draw_limit=int(limit) if limit is not None else None,
            draws_taken=int(fields.get("cursor", 0)),
            warm_start=decode_json(fields["warm_start"]) if "warm_start" in fields else None,
            warm_dropped=WarmDropped(*map(int, dropped.split())) if dropped else None,
            imported=decode_json(fields["imported"]) if "imported" in fields else None,
        )

    def current_header(self, keys: StudyKeys) -> StudyHeader:
        """The header of the study these keys belong to; StaleStudy when it is gone or recreated."""
        header = self.header(keys.name)
        if header is None or header.uid != keys.uid:
            raise StaleStudy("no such study", code="study_not_found")
        return header

    def study_names(self, after: str | None, limit: int, prefix: str = "") -> list[str]:
        """Names in lexical order, after the given one, that start with prefix."""
        low = f"({after}" if after and after >= prefix else f"[{prefix}" if prefix else "-"
        # Names are ASCII below DEL, so every name that starts with prefix sorts below prefix + DEL.
        high = f"({prefix}\x7f" if prefix else "+"
        with self._guard():
            return list(self.client.zrangebylex(STUDY_INDEX, low, high, start=0, num=limit))

    def trial_counts(self, names: Sequence[str], states: Sequence[str]) -> list[dict[str, int] | None]:
        """Each named study's trial counts by state, in one round trip; None for a study that is gone."""
        fields = ["uid", *(f"n_{state}" for state in states)]
        with self._guard():
            pipe = self.client.pipeline(transaction=False)
            for name in names:
                pipe.hmget(study_key(name), fields)
            replies = pipe.execute()
        return [
            None if reply[0] is None else {state: int(n or 0) for state, n in zip(states, reply[1:], strict=True)}
            for reply in replies
        ]

    def forget_study_name(self, name: str) -> None:
        with self._guard():
            self.client.zrem(STUDY_INDEX, name)

    def delete_study(self, name: str, uid: str) -> bool:
        with self._guard():
            deleted = bool(self.scripts.delete(keys=[study_key(name)], args=[uid]))
            if deleted:
                if not self.client.exists(study_key(name)):
                    self.client.zrem(STUDY_INDEX, name)
                self._sweep(name, uid)
        return deleted

    def _sweep(self, name: str, uid: str) -> None:
        batch: list[str] = []
        for key in self.client.scan_iter(match=data_pattern(name, uid), count=SWEEP_BATCH):
            batch.append(key)
            if len(batch) >= SWEEP_BATCH:
                self.client.unlink(*batch)
                batch.clear()
        if batch:
            self.client.unlink(*batch)

    # -- ask -------------------------------------------------------------------------------

    def reserve(
        self,
        keys: StudyKeys,
        count: int,
        *,
        worker: str,
        resume: bool,
        lease_ms: int,
        max_trials: int,
        idempotency: Idempotency | None,
        best_read: int = 0,
        direction: str = "minimize",
    ) -> AskReply:
        """Hand out a prepared draw, replay an Idempotency-Key's answer, resume the worker's
        trials, or reserve trial numbers for Python to fill and `commit`; a reservation that
        judges its level comes with the `best_read` best trials in this direction."""
        script_keys = [
            keys.study,
            keys.trials,
            keys.leases,
            keys.reserved,
            keys.pending,
            keys.enqueued,
            keys.levels,
            keys.prepared,
            keys.configs,
            keys.warm,
            keys.values,
            keys.rung(0),
            *_held(keys, idempotency),
        ]
        with self._guard():
            reply = self.scripts.ask(
                keys=script_keys,
                args=[
                    keys.uid,
                    count,
                    RESERVATION_MS,
                    EXPIRE_BATCH,
                    worker,
                    int(resume),
                    lease_ms,
                    max_trials,
                    PENDING_MS,
                    _answer(idempotency, "ask"),  # ask.lua appends the trial number
                    IDEMPOTENCY_TTL_S,
                    CLAIM_MS,
                    best_read,
                    direction,
                ],
            )
        status = reply[0]
        if status == "handed":
            observe_expired(int(reply[1]))
            return Handed(decode_trial(int(reply[3]), reply[4], int(reply[2])))
        if status == "ok":
            observe_expired(int(reply[9]))
            slots_from = 17 + 3 * int(reply[16])  # after the best trials' triples
            return Reserved(
                now_ms=int(reply[1]),
                state=SamplerState(
                    level=int(reply[2]), version=int(reply[3]), level_start=int(reply[4]), data=decode_json(reply[5])
                ),
                progress=LevelProgress(asked=int(reply[6]), done=int(reply[7]), reported=int(reply[8])),
                next_number=int(reply[10]),
                next_draw=int(reply[11]),
                judge=reply[12] == "1",
                prepare=reply[13] == "1",
                running=int(reply[14] or 0),
                best=_best_trials(reply[15], reply[17:slots_from], best_read),
                slots=tuple(_slot(*reply[i : i + 3]) for i in range(slots_from, len(reply), 3)),
            )
        if status == "resumed":
            return Resumed(tuple(int(n) for n in reply[2:]))
        if status == "replay":
            return Replayed(_replay(reply[1]))
        self._raise_for(status, reply)
        raise AssertionError(status)

    def _raise_for(self, status: str, reply: Sequence[Any]) -> None:
        if status == "gone":
            raise StaleStudy("no such study", code="study_not_found")
        if status == "paused":
            raise Conflict("the study is paused; resume it to ask for trials", code="study_paused")
        if status == "busy":
            raise Conflict(
                "a request with this Idempotency-Key is still being served; retry shortly", code="request_in_progress"
            )
        if status == "exhausted":
            raise Conflict(
                "every point of the search has been handed out",
                code="search_exhausted",
                details={"running": int(reply[1] or 0)},
            )
        if status == "limit":
            raise LimitExceeded(
                f"the study holds its maximum of {reply[1]} trials",
                code="too_many_trials",
                details={"max": int(reply[1])},
            )
        if status == "no_trial":
            raise NotFound("no such trial", code="trial_not_found")

    def commit(
        self,
        keys: StudyKeys,
        asked: Sequence[Filled],
        *,
        worker: str | None,
        asked_ms: int,
        lease_ms: int,
        idempotency: Idempotency | None,
        ahead: Ahead | None = None,
        move: LevelMove | None = None,
    ) -> CommitReply:
        """Store asked trials, make the level move if asked (a compare-and-set) and replace the
        prepared draws (when given, and the study is at their version): `Committed`, or, storing
        nothing, `Repeated` with the fresh draws whose configuration some trial has."""
        script_keys = [
            keys.study,
            keys.trials,
            keys.reserved,
            keys.leases,
            keys.enqueued,
            keys.prepared,
            keys.configs,
            keys.regions,
            *_held(keys, idempotency),
        ]
        answer = _answer(idempotency, "ask", ",".join(str(filled.number) for filled in asked))
        args: list[Any] = [
            keys.uid,
            lease_ms,
            answer,
            IDEMPOTENCY_TTL_S,
            "" if ahead is None else ahead.version,
            "" if ahead is None else judge_record(ahead.version, ahead.judge),
            *(
                ("", "", "", "")
                if move is None
                else (move.version, encode_json(move.region.state), region_members(move.region), move.level_start)
            ),
            len(asked),
        ]
        for filled in asked:
            args.extend(
                (
                    filled.number,
                    config_mark(filled.draw, fresh=filled.fresh),
                    ask_record(filled.draw, worker=worker, asked_ms=asked_ms),
                )
            )
        if ahead is not None:
            for prepared in ahead.draws:
                args.extend((f"{ahead.version}:{prepared.number}:{prepared.index}", prepared_draw(prepared.draw)))
        with self._guard():
            reply = self.scripts.commit(keys=script_keys, args=args)
        if reply[0] == "gone":
            raise StaleStudy("the study was deleted while asking", code="study_not_found")
        if reply[0] == "repeated":
            return Repeated(frozenset(int(n) for n in reply[1:]))
        return Committed(int(reply[1]), frozenset(int(n) for n in reply[3:]), moved=reply[2] == "1")

    # -- sampler levels ------------------------------------------------------------------------

    def advance(self, keys: StudyKeys, version: int, region: RegionRecord) -> bool:
        """Compare-and-set the sampler state to the region's: whether this call moved the study
        to the new level (False: another caller moved it first)."""
        with self._guard():
            reply = self.scripts.advance(
                keys=[keys.study, keys.regions],
                args=[keys.uid, version, encode_json(region.state), region_members(region)],
            )
        if reply[0] == "gone":
            raise StaleStudy("no such study", code="study_not_found")
        return bool(reply[0] == "advanced")

    def levels(self, keys: StudyKeys, numbers: Sequence[int]) -> list[LevelRow]:
        """Region and counts of each level asked for."""
        if not numbers:
            return []
        fields = [f"{n}:{part}" for n in numbers for part in "adbr"]
        with self._guard():
            pipe = self.client.pipeline(transaction=False)
            pipe.hmget(keys.regions, list(numbers))
            pipe.hmget(keys.levels, fields)
            regions, counts = pipe.execute()
        return [
            LevelRow(
                level=n,
                region=decode_region(regions[i]) if regions[i] is not None else None,
                asked=int(counts[4 * i] or 0),
                done=int(counts[4 * i + 1] or 0),
                best=float(counts[4 * i + 2]) if counts[4 * i + 2] is not None else None,
                reported=int(counts[4 * i + 3] or 0),
            )
            for i, n in enumerate(numbers)
        ]

    # -- tell, heartbeat, expiry -------------------------------------------------------------

    def tell(
        self,
        keys: StudyKeys,
        number: int,
        outcome: Outcome,
        *,
        direction: str,
        idempotency: Idempotency | None,
    ) -> TellReply:
        script_keys = [
            keys.study,
            keys.trials,
            keys.leases,
            keys.values,
            keys.pending,
            keys.levels,
            keys.curve(number),
            keys.notes,
            keys.warm,
            *_held(keys, idempotency),
        ]
        answer = _answer(idempotency, "tell", str(number))
        value = "" if outcome.value is None else repr(outcome.value)
        with self._guard():
            reply = self.scripts.tell(
                keys=script_keys,
                args=[
                    keys.uid,
                    number,
                    outcome.state.value,
                    value,
                    result_members(outcome),
                    direction,
                    answer,
                    IDEMPOTENCY_TTL_S,
                    WARM_START,
                ],
            )
        status = reply[0]
        if status == "replay":
            return Replayed(_replay(reply[1]))
        _check_incarnation(keys, status)
        self._raise_for(status, reply)
        trial = decode_trial(number, reply[1], note=reply[2])
        if status == "ok":
            return Recorded(trial)
        if status == "told":
            return AlreadyTold(trial)
        if status == "reoffered":
            return Reoffered(trial)
        raise AssertionError(status)

    def heartbeat(self, keys: StudyKeys, number: int, lease_ms: int) -> StoredTrial:
        """The trial, with its new lease deadline while it runs; a finished trial as it is."""
        with self._guard():
            reply = self.scripts.heartbeat(
                keys=[keys.study, keys.trials, keys.leases, keys.reserved, keys.pending, keys.notes],
                args=[keys.uid, number, lease_ms, EXPIRE_BATCH],
            )
        _check_incarnation(keys, reply[0])
        self._raise_for(reply[0], reply)
        deadline = int(reply[3]) if reply[0] == "ok" else None
        return decode_trial(number, reply[1], deadline, reply[2])

    def expire(self, keys: StudyKeys) -> int:
        with self._guard():
            expired = int(
                self.scripts.expire(
                    keys=[keys.study, keys.trials, keys.leases, keys.reserved, keys.pending],
                    args=[keys.uid, EXPIRE_BATCH],
                )
            )
        if expired < 0:
            raise StaleStudy("no such study", code="study_not_found")
        observe_expired(expired)
        return expired

    # -- panda mode: curves, pruning, hand controls -----------------------------------------

    def report(
        self, keys: StudyKeys, number: int, step: int, value: float, plan: ReportPlan, max_points: int, direction: str
    ) -> ReportReply:
        script_keys = [keys.study, keys.trials, keys.curve(number)]
        script_keys.append(keys.step(step) if plan.mode == "median" else keys.curve(number))
        script_keys.append(keys.levels)
        script_keys.extend(keys.rung(k) for k in plan.rungs)
        args: list[str | int] = [keys.uid, number, step, repr(value), max_points, plan.mode, direction]
        args += [plan.warmup_steps, plan.min_trials, plan.reduction_factor]
        with self._guard():
            reply = self.scripts.report(keys=script_keys, args=args)
        _check_incarnation(keys, reply[0])
        self._raise_for(reply[0], reply)
        if reply[0] == "finished":
            return Finished(decode_trial(number, reply[1]))
        return Verdict(bool(reply[1]))

    def curves(self, keys: StudyKeys, numbers: Sequence[int]) -> list[list[tuple[int, float]]]:
        """Each trial's learning curve as (step, value) pairs, by step."""
        with self._guard():
            pipe = self.client.pipeline(transaction=False)
            for number in numbers:
                pipe.zrange(keys.curve(number), 0, -1)
            reply = pipe.execute()
        return [decode_curve(points) for points in reply]

    def enqueue(self, keys: StudyKeys, configurations: Sequence[Mapping[str, Any]]) -> list[int]:
        with self._guard():
            reply = self.scripts.enqueue(
                keys=[keys.study, keys.pending, keys.enqueued],
                args=[keys.uid, *(encode_enqueued(params, ENQUEUED) for params in configurations)],
            )
        self._raise_for(reply[0], reply)
        return [int(i) for i in reply[1:]]

    def pending_count(self, keys: StudyKeys) -> int:
        """Configurations waiting to be handed out: retries, enqueued ones, a warm start's."""
        with self._guard(), self.client.pipeline(transaction=False) as pipe:
            pipe.zcard(keys.pending)
            pipe.llen(keys.warm)
            return sum(int(n) for n in pipe.execute())

    def set_paused(self, keys: StudyKeys, paused: bool) -> None:
        self._set_study_field(keys, "paused", "1" if paused else "0")

    def set_study_note(self, keys: StudyKeys, note: str) -> None:
        self._set_study_field(keys, "note", note)

    def _set_study_field(self, keys: StudyKeys, field_name: str, value: str) -> None:
        with self._guard():
            done = self.scripts.set_study_field(keys=[keys.study], args=[keys.uid, field_name, value])
        if not done:
            raise StaleStudy("no such study", code="study_not_found")

    def set_note(self, keys: StudyKeys, number: int, note: str) -> None:
        """Set a trial's note ('' clears it)."""
        with self._guard():
            reply = self.scripts.note(keys=[keys.study, keys.trials, keys.notes], args=[keys.uid, number, note])
        self._raise_for(reply[0], reply)

    # -- idempotency for writes without their own script ---------------------------------

    def idempotency_begin(self, name: str, incarnation: str | None, idempotency: Idempotency) -> Replay | None:
        """None: go ahead (the key is now held). A Replay: answer with it. Busy: Conflict.
        With an incarnation the key belongs to it, else to the study's name."""
        redis_key = _idempotency_key(name, incarnation, idempotency.key)
        with self._guard():
            if self.client.set(redis_key, "pending", nx=True, px=PENDING_MS):
                return None
            stored = self.client.get(redis_key)
        if stored is None or stored == "pending":
            self._raise_for("busy", [])
        return _replay(stored)

    def idempotency_finish(
        self, name: str, incarnation: str | None, idempotency: Idempotency, kind: str, answer: str
    ) -> None:
        with self._guard():
            self.client.set(
                _idempotency_key(name, incarnation, idempotency.key),
                _answer(idempotency, kind, answer),
                ex=IDEMPOTENCY_TTL_S,
            )

    def idempotency_abort(self, name: str, incarnation: str | None, idempotency: Idempotency) -> None:
        with self._guard():
            self.client.delete(_idempotency_key(name, incarnation, idempotency.key))

    # -- reads -------------------------------------------------------------------------------

    def _trial_rows(
        self, keys: StudyKeys, numbers: Sequence[int], per_trial: Callable[[Any, int], Any]
    ) -> list[tuple[int, str, str | None, Any]]:
        """(number, record, note, extra) of the stored trials among these numbers, in their order,
        missing numbers skipped: one pipelined read, `per_trial(pipe, number)` queuing the extra."""
        if not numbers:
            return []
        with self._guard():
            pipe = self.client.pipeline(transaction=False)
            pipe.hmget(keys.trials, list(numbers))
            pipe.hmget(keys.notes, list(numbers))
            for number in numbers:
                per_trial(pipe, number)
            records, notes, *extras = pipe.execute()
        rows = zip(numbers, records, notes, extras, strict=True)
        return [(number, record, note, extra) for number, record, note, extra in rows if record is not None]

    def records(self, keys: StudyKeys, numbers: Sequence[int]) -> list[StoredTrial]:
        """The stored trials among these numbers, in their order; missing numbers are skipped."""
        rows = self._trial_rows(keys, numbers, lambda pipe, number: pipe.zscore(keys.leases, number))
        return [decode_trial(number, record, deadline, note) for number, record, note, deadline in rows]

    def ranked(self, keys: StudyKeys, direction: str, k: int, ranking: Ranking) -> list[tuple[int, float]]:
        """Number and value of the k best trials by this ranking, best first (complete trials: ties
        as `top` orders them)."""
        ranked_key = keys.rung(0) if ranking is Ranking.FIRST_RUNG else keys.values
        with self._guard():
            if direction == "maximize":
                members = self.client.zrevrange(ranked_key, 0, k - 1, withscores=True)
            else:
                members = self.client.zrange(ranked_key, 0, k - 1, withscores=True)
        return [(int(number), float(value)) for number, value in members]

    def draws(self, keys: StudyKeys, numbers: Sequence[int]) -> dict[int, DrawRecord]:
        """The draw of each stored trial among these numbers."""
        if not numbers:
            return {}
        with self._guard():
            records = self.client.hmget(keys.trials, list(numbers))
        return {n: decode_stored_draw(r) for n, r in zip(numbers, records, strict=True) if r is not None}

    def top(self, keys: StudyKeys, direction: str, k: int) -> list[StoredTrial]:
        with self._guard():
            reply = self.scripts.top(keys=[keys.values, keys.trials, keys.notes], args=[direction, k])
        return [decode_trial(int(reply[i]), reply[i + 1], None, reply[i + 2]) for i in range(0, len(reply), 3)]

    def by_value(
        self, keys: StudyKeys, direction: str, after: tuple[float, int] | None, limit: int
    ) -> list[tuple[StoredTrial, float]]:
        """Complete trials best first (with their values), after a (value, number) cursor.

        Redis orders equal scores by member bytes (descending when reversed), so ties are paged
        by comparing members as strings, the way Redis itself ordered them.
        """
        maximize = direction == "maximize"
        with self._guard():
            members: list[tuple[str, float]] = []
            if after is None:
                if maximize:
                    members = self.client.zrevrange(keys.values, 0, limit - 1, withscores=True)
                else:
                    members = self.client.zrange(keys.values, 0, limit - 1, withscores=True)
            else:
                value, number = after
                last = str(number)
                ties = self.client.zrangebyscore(keys.values, value, value, withscores=True)
                if maximize:
                    members = sorted((ms for ms in ties if ms[0] < last), reverse=True)
                    rest = self.client.zrevrangebyscore(keys.values, f"({value!r}", "-inf", 0, limit, withscores=True)
                else:
                    members = sorted(ms for ms in ties if ms[0] > last)
                    rest = self.client.zrangebyscore(keys.values, f"({value!r}", "+inf", 0, limit, withscores=True)
                members = (members + list(rest))[:limit]
            if not members:
                return []
            pipe = self.client.pipeline(transaction=False)
            pipe.hmget(keys.trials, [m for m, _ in members])
            pipe.hmget(keys.notes, [m for m, _ in members])
            records, notes = pipe.execute()
        return [
            (decode_trial(int(m), r, None, note), score)
            for (m, score), r, note in zip(members, records, notes, strict=True)
            if r is not None
        ]

    def trial_count(self, keys: StudyKeys) -> int:
        """How many trial numbers were handed out (numbers run from 0 to this minus one)."""
        with self._guard():
            return int(self.client.hget(keys.study, "seq") or 0)

    # -- export and import -----------------------------------------------------------------

    def export_trials(self, keys: StudyKeys, numbers: Sequence[int]) -> list[PortableTrial]:
        """The stored trials among these numbers, with notes and learning curves, in order."""
        rows = self._trial_rows(keys, numbers, lambda pipe, number: pipe.zrange(keys.curve(number), 0, -1))
        return [decode_portable(n, record, note, decode_curve(points)) for n, record, note, points in rows]

    def queued(self, keys: StudyKeys, start: int, count: int) -> list[QueuedSlot]:
        """A page of the configurations waiting to be handed out: the pending ones in their order,
        then a warm start's (which alternate with fresh draws, so they come later)."""
        with self._guard():
            slots = self.client.zrange(keys.pending, start, start + count - 1)
            if len(slots) < count:
                skip = max(0, start - int(self.client.zcard(keys.pending)))
                warm = self.client.lrange(keys.warm, skip, skip + count - len(slots) - 1)
                slots += [f"{_SLOT_LETTERS[SlotKind.ENQUEUED]}{ident}" for ident in warm]
            ids = [slot[1:] for slot in slots if _SLOT_KINDS[slot[0]] is SlotKind.ENQUEUED]
            payloads = dict(zip(ids, self.client.hmget(keys.enqueued, ids), strict=True)) if ids else {}
        out = []
        for slot in slots:
            kind = _SLOT_KINDS[slot[0]]
            if kind is not SlotKind.ENQUEUED:
                out.append(QueuedSlot(kind, int(slot[1:])))
            elif (payload := payloads[slot[1:]]) is not None:
                params, source = decode_enqueued(payload)
                out.append(QueuedSlot(kind, enqueued=params, enqueued_by=source))
        return out

    def begin_import(self, name: str, uid: str, dead_before_ms: int) -> None:
        """Open a hidden incarnation for an import; sweeps imports that died before `dead_before_ms`."""
        with self._guard():
            reply = self.scripts.import_begin(keys=[study_key(name), staging_key(name)], args=[uid, dead_before_ms])
            if reply[0] == "exists":
                raise Conflict(f"study {name!r} exists; import into a new name", code="study_exists")
            for dead in reply[1:]:
                self._sweep(name, dead)

    def import_chunk(self, keys: StudyKeys, chunk: ImportChunk) -> None:
        """Write a chunk into the hidden incarnation in one script: all of it or none."""
        script_keys = [staging_key(keys.name), keys.trials]
        index = {key: i + 1 for i, key in enumerate(script_keys)}
        args: list[Any] = [keys.uid]

        def op(kind: str, key: str, member: Any, value: Any) -> None:
            if key not in index:
                script_keys.append(key)
                index[key] = len(script_keys)
            args.extend((kind, index[key], member, value))

        for portable, deadline in chunk.trials:
            trial = portable.trial
            n = trial.number
            op("trial", keys.trials, n, encode_record(portable))
            # Every configuration handed out is in the config set, so no fresh draw repeats it.
            op("sadd", keys.configs, config_fingerprint(trial.draw.packed), "")
            if trial.state is TrialState.COMPLETE and trial.value is not None:
                op("zadd", keys.values, n, repr(trial.value))
            if trial.note is not None:
                op("hset", keys.notes, n, trial.note)
            if deadline is not None:
                op("zadd", keys.leases, n, deadline)
            for step, value in portable.curve:
                op("zadd", keys.curve(n), curve_member(step, value), step)
        for kind, where, n, value in chunk.pruner:
            if kind == "step":
                op("zadd", keys.step(where), n, repr(value))
            else:
                op("zaddnx", keys.rung(where), n, repr(value))
        for level in chunk.levels:
            if level.region is not None:
                op("hset", keys.regions, level.level, encode_region(level.level, level.region))
            op("hset", keys.levels, f"{level.level}:a", level.asked)
            op("hset", keys.levels, f"{level.level}:d", level.done)
            if level.reported:
                op("hset", keys.levels, f"{level.level}:r", level.reported)
            if level.best is not None:
                op("hset", keys.levels, f"{level.level}:b", repr(level.best))
        for order, slot in chunk.queued:
            ident = slot.ident
            if slot.kind is SlotKind.ENQUEUED:
                assert slot.enqueued is not None
                ident = order  # enqueued ids are numbered afresh, in queue order
                op("hset", keys.enqueued, ident, encode_enqueued(slot.enqueued, slot.enqueued_by))
            op("zadd", keys.pending, f"{_SLOT_LETTERS[slot.kind]}{ident}", order)
        with self._guard():
            reply = self.scripts.import_chunk(keys=script_keys, args=args)
        if reply[0] == "gone":
            raise Conflict("the import was aborted meanwhile", code="import_aborted")
        if reply[0] == "duplicate":
            raise InvalidInput(f"trial {reply[1]} appears twice in the stream", code="invalid_import")

    def publish_import(
        self, keys: StudyKeys, *, trials: int, complete: int, queued: int, regions: int, fields: Mapping[str, Any]
    ) -> None:
        """Make the hidden incarnation the study, once the counts match what the stream announced.
        `fields`: the header's, as create.lua and the scripts since would have left them."""
        script_keys = [keys.study, staging_key(keys.name), keys.trials, keys.values, keys.pending, keys.regions]
        args: list[Any] = [keys.uid, trials, complete, queued, regions]
        for name, value in fields.items():
            if name in _JSON_FIELDS:
                value = encode_spec(value) if name == "spec" else encode_json(value)
            args.extend((name, value))
        with self._guard():
            reply = self.scripts.import_publish(keys=script_keys, args=args)
            if reply[0] == "ok":
                self.client.zadd(STUDY_INDEX, {keys.name: 0}, nx=True)
                return
        if reply[0] == "exists":
            raise Conflict(f"study {keys.name!r} was created while importing", code="study_exists")
        if reply[0] == "gone":
            raise Conflict("the import was aborted meanwhile", code="import_aborted")
        raise InvalidInput(
            f"the stream announced {reply[2]} {reply[1]} but {reply[3]} arrived",
            code="invalid_import",
            details={"what": reply[1], "expected": int(reply[2]), "found": int(reply[3])},
        )

    def abort_import(self, name: str, uid: str) -> None:
        """Drop an import's hidden incarnation and everything it wrote."""
        with self._guard():
            self.client.hdel(staging_key(name), uid)
            self._sweep(name, uid)

    def value_count(self, keys: StudyKeys) -> int:
        """How many trials are complete (have a value): the count an importance answer is for."""
        with self._guard():
            return int(self.client.zcard(keys.values))

    def sample_complete(self, keys: StudyKeys, count: int) -> list[int]:
        """Numbers of up to `count` distinct complete trials drawn at random; all of them when fewer."""
        with self._guard():
            return [int(n) for n in self.client.zrandmember(keys.values, count)]

    # -- caches --------------------------------------------------------------------------------

    def cached_importance(self, keys: StudyKeys) -> Importance | None:
        with self._guard():
            cached = self.client.get(keys.importance)
        return None if cached is None else decode_importance(cached)

    def cache_importance(self, keys: StudyKeys, answer: Importance) -> None:
        with self._guard():
            self.client.set(keys.importance, encode_importance(answer), ex=CACHE_SECONDS)
