"""The only module that talks to Redis. It returns frozen values and raises domain errors."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis

from ..domain.errors import Conflict, LimitExceeded, NotFound, StorageUnavailable
from ..metrics import REDIS_ERRORS, observe_expired
from ..pruners import ReportPlan
from ..samplers.base import SamplerState
from .keys import STUDY_INDEX, StudyKeys, data_pattern, idempotency_key, study_key
from .records import StoredTrial
from .scripts import Scripts

EXPIRE_BATCH = 100  # leases expired per call: bounds a call's work after a long outage
RESERVATION_MS = 60_000  # an ask commits within milliseconds; a minute means its process died
# How long a retry with the same Idempotency-Key waits (409 request_in_progress) for the first
# attempt: that attempt answers in milliseconds, so after this its process is taken for dead.
PENDING_MS = 10_000
SWEEP_BATCH = 500
# A cached answer outlives no study for long: one written just after its study was deleted (and
# swept) would otherwise stay forever.
CACHE_SECONDS = 86_400


class StaleStudy(NotFound):
    """The study was deleted, or deleted and created again, since the caller cached it."""

    code = "study_not_found"


@dataclass(frozen=True)
class StudyHeader:
    name: str
    uid: str
    spec_json: str
    created_ms: int
    seed: int
    paused: bool
    counts: dict[str, int]
    fields: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class Slot:
    """One reserved trial number and what fills it."""

    number: int
    kind: str  # "fresh" | "draw" | "retry" | "enqueued"
    ident: int  # draw index, the retried trial's number, or the enqueued id
    payload: str  # ask JSON of the retried trial, or the enqueued params JSON


@dataclass(frozen=True)
class Reservation:
    now_ms: int
    state: SamplerState
    level_asked: int
    level_done: int
    expired: int
    next_number: int  # the number and draw index the next ask will take if nothing intervenes
    next_draw: int
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class Prepared:
    """A draw computed ahead for the ask that takes this number and draw index at this state
    version; ask.lua hands it out without Python."""

    version: int
    number: int
    draw: int
    fields: str

    @property
    def field(self) -> str:
        return f"{self.version}:{self.number}:{self.draw}"


@dataclass(frozen=True)
class Replay:
    """A stored answer to an Idempotency-Key: `fingerprint|answer`."""

    fingerprint: str
    answer: str


@dataclass(frozen=True)
class TellResult:
    status: str  # "ok" | "told" | "reoffered"
    record: str
    note: str | None


@dataclass(frozen=True)
class LevelRow:
    """One sampler level as stored: its region record (None for level 0) and its trial counts."""

    level: int
    region: str | None
    asked: int
    done: int
    best: float | None


_SLOT_KINDS = {"f": "fresh", "d": "draw", "r": "retry", "e": "enqueued"}


def _replay(stored: str) -> Replay:
    fingerprint, _, answer = stored.partition("|")
    return Replay(fingerprint, answer)


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
        self, name: str, uid: str, spec_json: str, seed: int, max_retries: int, draw_limit: int | None, state_json: str
    ) -> tuple[bool, str]:
        """(True, created ms) when created; (False, stored spec JSON) when the name is taken."""
        with self._guard():
            status, value = self.scripts.create(
                keys=[study_key(name)],
                args=[uid, spec_json, seed, max_retries, "" if draw_limit is None else draw_limit, state_json],
            )
            # The index is in another cluster slot; a crash between the two is mended by the next PUT.
            self.client.zadd(STUDY_INDEX, {name: 0}, nx=True)
        return status == "created", value

    def header(self, name: str) -> StudyHeader | None:
        with self._guard():
            fields = self.client.hgetall(study_key(name))
        if not fields:
            return None
        return StudyHeader(
            name=name,
            uid=fields["uid"],
            spec_json=fields["spec"],
            created_ms=int(fields["created"]),
            seed=int(fields["seed"]),
            paused=fields.get("paused") == "1",
            counts={k[2:]: int(v) for k, v in fields.items() if k.startswith("n_")},
            fields=fields,
        )

    def study_names(self, after: str | None, limit: int) -> list[str]:
        """Names in lexical order, after the given one."""
        with self._guard():
            low = f"({after}" if after else "-"
            return list(self.client.zrangebylex(STUDY_INDEX, low, "+", start=0, num=limit))

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
        idempotency: str | None,
        answer_prefix: str,
    ) -> Reservation | Replay | list[int] | StoredTrial:
        """Reserve numbers; a Replay for a repeated Idempotency-Key; a list of numbers on resume;
        or, when a prepared draw fitted, the trial already stored."""
        script_keys = [
            keys.study,
            keys.trials,
            keys.leases,
            keys.reserved,
            keys.pending,
            keys.enqueued,
            keys.levels,
            keys.prepared,
        ]
        if idempotency:
            script_keys.append(idempotency_key(keys.name, idempotency))
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
                    answer_prefix,
                ],
            )
        status = reply[0]
        if status == "handed":
            observe_expired(int(reply[1]))
            return StoredTrial(int(reply[3]), reply[4], int(reply[2]))
        if status == "ok":
            slots = []
            for i in range(11, len(reply), 3):
                slot = reply[i + 1]
                slots.append(Slot(int(reply[i]), _SLOT_KINDS[slot[0]], int(slot[1:]), reply[i + 2]))
            state = SamplerState(
                level=int(reply[2]), version=int(reply[3]), level_start=int(reply[4]), data=json.loads(reply[5])
            )
            observe_expired(int(reply[8]))
            return Reservation(
                int(reply[1]),
                state,
                int(reply[6]),
                int(reply[7]),
                int(reply[8]),
                int(reply[9]),
                int(reply[10]),
                tuple(slots),
            )
        if status == "resumed":
            return [int(n) for n in reply[2:]]
        if status == "replay":
            return _replay(reply[1])
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
        records: Sequence[tuple[int, str]],
        *,
        lease_ms: int,
        idempotency: str | None,
        answer: str,
        prepared: Sequence[Prepared] = (),
    ) -> tuple[int, list[int]]:
        """Store asked trials and replace the prepared draws (when given); returns (lease
        deadline ms, numbers whose reservation was lost)."""
        script_keys = [keys.study, keys.trials, keys.reserved, keys.leases, keys.enqueued, keys.prepared]
        if idempotency:
            script_keys.append(idempotency_key(keys.name, idempotency))
        args: list[Any] = [keys.uid, lease_ms, answer, len(records)]
        for number, record in records:
            args.extend((number, record))
        for draw in prepared:
            args.extend((draw.field, draw.fields))
        with self._guard():
            reply = self.scripts.commit(keys=script_keys, args=args)
        if reply[0] == "gone":
            raise StaleStudy("the study was deleted while asking", code="study_not_found")
        return int(reply[1]), [int(n) for n in reply[2:]]

    # -- sampler levels ------------------------------------------------------------------------

    def advance(self, keys: StudyKeys, version: int, state_json: str, region_json: str) -> bool:
        """Compare-and-set the sampler state; True when this call moved the study to a new level."""
        with self._guard():
            reply = self.scripts.advance(
                keys=[keys.study, keys.regions], args=[keys.uid, version, state_json, region_json[1:]]
            )
        if reply[0] == "gone":
            raise StaleStudy("no such study", code="study_not_found")
        return bool(reply[0] == "advanced")

    def levels(self, keys: StudyKeys, numbers: Sequence[int]) -> list[LevelRow]:
        """Region record and counts of each level asked for."""
        if not numbers:
            return []
        fields = [f"{n}:{part}" for n in numbers for part in "adb"]
        with self._guard():
            pipe = self.client.pipeline(transaction=False)
            pipe.hmget(keys.regions, list(numbers))
            pipe.hmget(keys.levels, fields)
            regions, counts = pipe.execute()
        return [
            LevelRow(
                level=n,
                region=regions[i],
                asked=int(counts[3 * i] or 0),
                done=int(counts[3 * i + 1] or 0),
                best=float(counts[3 * i + 2]) if counts[3 * i + 2] is not None else None,
            )
            for i, n in enumerate(numbers)
        ]

    # -- tell, heartbeat, expiry -------------------------------------------------------------

    def tell(
        self,
        keys: StudyKeys,
        number: int,
        *,
        state: str,
        value: float | None,
        body: str,
        direction: str,
        idempotency: str | None,
        answer: str,
    ) -> TellResult | Replay:
        script_keys = [
            keys.study,
            keys.trials,
            keys.leases,
            keys.values,
            keys.pending,
            keys.levels,
            keys.curve(number),
            keys.notes,
        ]
        if idempotency:
            script_keys.append(idempotency_key(keys.name, idempotency))
        with self._guard():
            reply = self.scripts.tell(
                keys=script_keys,
                args=[keys.uid, number, state, "" if value is None else repr(value), body, direction, answer],
            )
        status = reply[0]
        if status in ("ok", "told", "reoffered"):
            return TellResult(status, reply[1], reply[2])
        if status == "replay":
            return _replay(reply[1])
        self._raise_for(status, reply)
        raise AssertionError(status)

    def heartbeat(self, keys: StudyKeys, number: int, lease_ms: int) -> tuple[str, StoredTrial]:
        """("ok", the trial with its new deadline) or ("finished", the trial)."""
        with self._guard():
            reply = self.scripts.heartbeat(
                keys=[keys.study, keys.trials, keys.leases, keys.reserved, keys.pending, keys.notes],
                args=[keys.uid, number, lease_ms, EXPIRE_BATCH],
            )
        self._raise_for(reply[0], reply)
        deadline = int(reply[3]) if reply[0] == "ok" else None
        return reply[0], StoredTrial(number, reply[1], deadline, reply[2])

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
    ) -> tuple[str | None, bool]:
        """(None, prune?) for a running trial; (its record, False) when it has finished."""
        script_keys = [keys.study, keys.trials, keys.curve(number)]
        script_keys.append(keys.step(step) if plan.mode == "median" else keys.curve(number))
        script_keys.extend(keys.rung(k) for k in plan.rungs)
        args: list[str | int] = [keys.uid, number, step, repr(value), max_points, plan.mode, direction]
        args += [plan.warmup_steps, plan.min_trials, plan.reduction_factor]
        with self._guard():
            reply = self.scripts.report(keys=script_keys, args=args)
        self._raise_for(reply[0], reply)
        if reply[0] == "finished":
            return reply[1], False
        return None, bool(reply[1])

    def curves(self, keys: StudyKeys, numbers: Sequence[int]) -> list[list[tuple[int, float]]]:
        """Each trial's learning curve as (step, value) pairs, by step."""
        with self._guard():
            pipe = self.client.pipeline(transaction=False)
            for number in numbers:
                pipe.zrange(keys.curve(number), 0, -1)
            reply = pipe.execute()
        return [[(int(s), float(v)) for s, _, v in (point.partition(":") for point in points)] for points in reply]

    def enqueue(self, keys: StudyKeys, configurations: Sequence[str]) -> list[int]:
        with self._guard():
            reply = self.scripts.enqueue(
                keys=[keys.study, keys.pending, keys.enqueued], args=[keys.uid, *configurations]
            )
        self._raise_for(reply[0], reply)
        return [int(i) for i in reply[1:]]

    def pending_count(self, keys: StudyKeys) -> int:
        with self._guard():
            return int(self.client.zcard(keys.pending))

    def set_study_field(self, keys: StudyKeys, field_name: str, value: str) -> None:
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

    def idempotency_begin(self, name: str, key: str) -> Replay | None:
        """None: go ahead (the key is now held). A Replay: answer with it. Busy: Conflict."""
        redis_key = idempotency_key(name, key)
        with self._guard():
            if self.client.set(redis_key, "pending", nx=True, px=PENDING_MS):
                return None
            stored = self.client.get(redis_key)
        if stored is None or stored == "pending":
            self._raise_for("busy", [])
        return _replay(stored)

    def idempotency_finish(self, name: str, key: str, answer: str) -> None:
        with self._guard():
            self.client.set(idempotency_key(name, key), answer, ex=86_400)

    def idempotency_abort(self, name: str, key: str) -> None:
        with self._guard():
            self.client.delete(idempotency_key(name, key))

    # -- reads -------------------------------------------------------------------------------

    def records(self, keys: StudyKeys, numbers: Sequence[int]) -> list[StoredTrial]:
        """The stored trials among these numbers, in their order; missing numbers are skipped."""
        if not numbers:
            return []
        with self._guard():
            pipe = self.client.pipeline(transaction=False)
            pipe.hmget(keys.trials, list(numbers))
            pipe.hmget(keys.notes, list(numbers))
            for number in numbers:
                pipe.zscore(keys.leases, number)
            reply = pipe.execute()
        return [
            StoredTrial(number, record, deadline, note)
            for number, record, note, deadline in zip(numbers, reply[0], reply[1], reply[2:], strict=True)
            if record is not None
        ]

    def top(self, keys: StudyKeys, direction: str, k: int) -> list[StoredTrial]:
        with self._guard():
            reply = self.scripts.top(keys=[keys.values, keys.trials, keys.notes], args=[direction, k])
        return [StoredTrial(int(reply[i]), reply[i + 1], None, reply[i + 2]) for i in range(0, len(reply), 3)]

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
            (StoredTrial(int(m), r, None, note), score)
            for (m, score), r, note in zip(members, records, notes, strict=True)
            if r is not None
        ]

    def trial_count(self, keys: StudyKeys) -> int:
        """How many trial numbers were handed out (numbers run from 0 to this minus one)."""
        with self._guard():
            return int(self.client.hget(keys.study, "seq") or 0)

    def value_count(self, keys: StudyKeys) -> int:
        with self._guard():
            return int(self.client.zcard(keys.values))

    def sample_complete(self, keys: StudyKeys, count: int) -> list[int]:
        """Numbers of up to `count` distinct complete trials drawn at random; all of them when fewer."""
        with self._guard():
            return [int(n) for n in self.client.zrandmember(keys.values, count)]

    # -- caches --------------------------------------------------------------------------------

    def cached_importance(self, keys: StudyKeys) -> str | None:
        with self._guard():
            cached: str | None = self.client.get(keys.importance)
        return cached

    def cache_importance(self, keys: StudyKeys, answer: str) -> None:
        with self._guard():
            self.client.set(keys.importance, answer, ex=CACHE_SECONDS)
