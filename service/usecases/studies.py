"""Use cases on studies: create-or-get, read, list, delete; and the per-process study cache."""

from __future__ import annotations

import functools
import json
import math
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from ..config import Limits
from ..domain.errors import Conflict, InvalidInput, LimitExceeded, NotFound, StaleStudy, StudyRecreated
from ..domain.projection import OutOfBounds, project_configurations, project_region
from ..domain.stored import StudyHeader
from ..domain.study import Study, StudySpec, check_study_name
from ..domain.trial import TrialRef, TrialState
from ..pruners import normalize_pruner
from ..samplers import Sampler, make_sampler, normalize_sampler
from ..storage.keys import StudyKeys
from ..storage.store import Store

CACHE_SIZE = 4096  # specs are immutable; the cache only saves a read of the spec per ask
COUNTS_CHUNK = 1000  # studies whose counts are read per round trip
DEFAULT_WARM_TOP = 10  # the old study's best ten: enough to re-find its optimum, few against any budget
# A quarter of level 0 in the old region, on top of the usual whole-space draws that notice it went stale.
DEFAULT_REGION_SHARE = 0.25


@dataclass(frozen=True)
class StudyHandle:
    """What every request on a study needs, cached per process; valid while the uid matches."""

    name: str
    uid: str
    spec: StudySpec
    sampler: Sampler
    seed: int
    keys: StudyKeys


@dataclass(frozen=True)
class WarmStart:
    """What a warm start adds to a new study: the report it keeps and its configurations, best
    first, then those drawn in the inherited region."""

    report: dict[str, Any]
    queued: tuple[dict[str, Any], ...]


def warm_report(header: StudyHeader) -> dict[str, Any] | None:
    """The warm start's report, with whether fresh draws beat its configurations and when."""
    if header.warm_start is None:
        return None
    dropped = header.warm_dropped
    abandoned = None if dropped is None else {"dropped": dropped.configurations, "after_trial": dropped.after_trial}
    return {**header.warm_start, "abandoned": abandoned}


def warm_note(header: StudyHeader) -> str | None:
    """Level 0's note when a warm start gave it an inherited region."""
    region = header.warm_start.get("region") if header.warm_start else None
    return region["note"] if region else None


R = TypeVar("R")
P = ParamSpec("P")


class UsesStudies(Protocol):
    studies: Studies


U = TypeVar("U", bound=UsesStudies)


def on_study(method: Callable[Concatenate[U, StudyHandle, P], R]) -> Callable[Concatenate[U, str, P], R]:
    """Turn a use case written for a study's handle into one called with the study's name:
    `@on_study def best(self, handle)` is called as `best(name)`. See `Studies.run`."""

    @functools.wraps(method)
    def on_named(self: U, name: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.studies.run(name, lambda handle: method(self, handle, *args, **kwargs))

    return on_named


def on_incarnation(
    method: Callable[Concatenate[U, StudyHandle, P], R],
) -> Callable[Concatenate[U, str, str | None, P], R]:
    """As `on_study`, called with the study's name and the study id the caller read, or None:
    `@on_incarnation def pause(self, handle)` is called as `pause(name, study_id)`. With an id it
    acts on that incarnation only (see `Studies.run`)."""

    @functools.wraps(method)
    def on_named(self: U, name: str, study_id: str | None, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.studies.run(name, lambda handle: method(self, handle, *args, **kwargs), study_id)

    return on_named


def on_trial(method: Callable[Concatenate[U, StudyHandle, int, P], R]) -> Callable[Concatenate[U, str, str, P], R]:
    """A use case on one trial handed out, called with the study's name and the trial's id:
    `@on_trial def heartbeat(self, handle, number)` is called as `heartbeat(name, trial_id)`. It
    gets the handle of the incarnation the id names, never a newer one (`Studies.incarnation`);
    the storage checks the uid again in the script that changes the trial."""

    @functools.wraps(method)
    def on_id(self: U, name: str, trial_id: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
        handle, number = self.studies.incarnation(name, trial_id)
        return method(self, handle, number, *args, **kwargs)

    return on_id


def _disjoint(prefixes: Sequence[str]) -> list[str]:
    """The prefixes in order, less those an earlier one covers: their name ranges follow each other."""
    kept: list[str] = []
    for prefix in sorted(set(prefixes)):
        if not kept or not prefix.startswith(kept[-1]):
            kept.append(prefix)
    return kept


class Studies:
    def __init__(self, store: Store, limits: Limits) -> None:
        self.store = store
        self.limits = limits
        self._cache: dict[str, StudyHandle] = {}
        self._lock = threading.Lock()

    def parse_spec(self, body: Mapping[str, Any]) -> StudySpec:
        metadata = body.get("metadata") or {}
        if len(json.dumps(metadata)) > self.limits.max_metadata_bytes:
            raise LimitExceeded(
                f"metadata is over {self.limits.max_metadata_bytes} bytes of JSON", code="metadata_too_large"
            )
        data = dict(body)
        data["sampler"] = normalize_sampler(body.get("sampler"))
        data["pruner"] = normalize_pruner(body.get("pruner"))
        return StudySpec.from_dict(data, self.limits.max_params, self.limits.max_choices)

    def put(self, name: str, body: Mapping[str, Any]) -> tuple[Study, bool]:
        """Create the study, or return the stored one when the spec is the same.

        A `warm_start` applies when the study is created; a PUT of an existing study compares
        only the spec, so every worker can send the same body.
        """
        check_study_name(name)
        spec = self.parse_spec(body)
        seed = spec.seed if spec.seed is not None else secrets.randbelow(2**32)
        sampler = make_sampler(spec, seed)
        state = sampler.initial_state()
        warm = None
        if body.get("warm_start") and self.store.header(name) is None:
            warm = self._warm_start(name, spec, seed, body["warm_start"], sampler)
        stored = self.store.create_study(
            name,
            secrets.token_hex(6),
            spec.to_dict(),
            seed,
            spec.max_retries,
            sampler.size(),
            state,
            warm_start=warm.report if warm else None,
            queued=warm.queued if warm else (),
        )
        if stored is not None:
            # Normalised again: options added since the study was stored compare at their defaults,
            # and options whose default changed since compare at the default it was created with,
            # so the PUT every worker sends stays "the same spec" across an upgrade.
            sampler_now, pruner_now = normalize_sampler(stored["sampler"]), normalize_pruner(stored["pruner"])
            stored_spec = StudySpec.from_dict({**stored, "sampler": sampler_now, "pruner": pruner_now})
            asked = replace(
                spec,
                sampler=normalize_sampler(body.get("sampler"), sampler_now),
                pruner=normalize_pruner(body.get("pruner"), pruner_now),
            )
            differences = stored_spec.differences(asked)
            if differences:
                raise Conflict(
                    f"study {name!r} exists with a different spec; differing fields: {', '.join(differences)}",
                    code="study_exists",
                    details={"differences": differences},
                )
        return self.get(name), stored is None

    def _warm_start(
        self, name: str, spec: StudySpec, seed: int, options: Mapping[str, Any], sampler: Sampler
    ) -> WarmStart:
        """The best configurations of an earlier study projected onto this spec's space, then, when
        asked for (coarse-to-fine only), configurations spread over its final region: as many as
        make `region_share` of a level 0 grown by them, so the whole-space draws of level 0 stay a
        cold start's. All of them are judged, and dropped once beaten, as one warm start."""
        source_name = options["from"]
        if source_name == name:
            raise InvalidInput("a study cannot warm-start from itself", code="invalid_warm_start")
        wants_region = options.get("region", False)
        if wants_region and spec.sampler["name"] != "coarse_to_fine":
            raise InvalidInput("warm_start.region needs the coarse_to_fine sampler", code="invalid_warm_start")
        top = options.get("top", DEFAULT_WARM_TOP)
        if not 0 <= top <= self.limits.max_enqueue_count:
            raise InvalidInput(
                f"warm_start.top must be between 0 and {self.limits.max_enqueue_count}", code="invalid_warm_start"
            )
        missing = InvalidInput(f"warm_start.from: no study named {source_name!r}", code="warm_start_source_not_found")
        try:
            source = self.refresh(source_name)
            header = self.store.current_header(source.keys)
        except NotFound:
            raise missing from None
        old_space = source.spec.space
        rows = self.store.top(source.keys, source.spec.direction.value, top) if top else []
        best = [row.to_trial(old_space, source.uid).params for row in rows]
        policy = OutOfBounds(options.get("out_of_bounds", OutOfBounds.CLIP))
        projected = project_configurations(best, old_space, spec.space, policy, seed)
        report: dict[str, Any] = {
            "from": source_name,
            "from_uid": source.uid,
            "top": top,
            "out_of_bounds": policy.value,
            **projected.report,
            "region": None,
        }
        queued = list(projected.configurations)
        if wants_region:
            share = options.get("region_share", DEFAULT_REGION_SHARE)
            level = header.state.level
            final = source.sampler.region(header.state.data)
            inherited = project_region(final.box, final.keep, old_space, spec.space)
            drawn: list[dict[str, Any]] = []
            if inherited is None:
                note = f"the whole space: study {source_name!r} ended on a region this space does not narrow"
            else:
                level_zero = sampler.options["initial_trials"]
                wanted = math.ceil(level_zero / (1 - share)) - level_zero
                drawn = inherited.draw(spec.space, min(wanted, self.limits.max_enqueue_count - len(queued)), seed)
                queued += drawn
                note = (
                    f"the whole space, and {len(drawn)} warm-start configurations inside the region inherited "
                    f"from study {source_name!r} (its level {level}): {inherited.describe(spec.space)}"
                )
            report["region"] = {
                "share": share if drawn else 0.0,
                "configurations": len(drawn),
                "from_level": level,
                "note": note,
            }
        return WarmStart(report, tuple(queued))

    def _handle_from(self, header: StudyHeader) -> StudyHandle:
        spec = StudySpec.from_dict(header.spec)
        return StudyHandle(
            name=header.name,
            uid=header.uid,
            spec=spec,
            sampler=make_sampler(spec, header.seed),
            seed=header.seed,
            keys=StudyKeys(header.name, header.uid),
        )

    def handle(self, name: str) -> StudyHandle:
        cached = self._cache.get(name)
        return cached if cached is not None else self.refresh(name)

    def refresh(self, name: str) -> StudyHandle:
        check_study_name(name)
        header = self.store.header(name)
        if header is None:
            self._cache.pop(name, None)
            raise NotFound(f"no study named {name!r}", code="study_not_found")
        handle = self._handle_from(header)
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[name] = handle
        return handle

    def run(self, name: str, action: Callable[[StudyHandle], R], incarnation: str | None = None) -> R:
        """action(handle). The handle comes from this process's cache; when storage finds the
        cached study stale (deleted, or deleted and created again), reload it and act once more.

        With an incarnation (the study id a hand control presents), act on that one only: the
        storage checks the uid in the same script that changes anything, and a study deleted and
        created again meanwhile raises StudyRecreated instead of being acted on.
        """
        if incarnation is not None:
            try:
                return action(self.pinned(name, incarnation))
            except StaleStudy:
                if self.refresh(name).uid != incarnation:  # NotFound when it is gone altogether
                    raise StudyRecreated(name) from None
                raise
        try:
            return action(self.handle(name))
        except StaleStudy:
            return action(self.refresh(name))

    def pinned(self, name: str, uid: str) -> StudyHandle:
        """The handle of incarnation `uid` of the study; StudyRecreated when the study is another
        incarnation now, NotFound when there is none."""
        handle = self.handle(name)
        if handle.uid != uid:
            handle = self.refresh(name)  # this process may know an older incarnation than the caller
            if handle.uid != uid:
                raise StudyRecreated(name)
        return handle

    def incarnation(self, name: str, trial_id: str) -> tuple[StudyHandle, int]:
        """The handle of the incarnation a trial id names, and the trial's number."""
        ref = TrialRef.parse(trial_id)
        if ref is None:
            raise NotFound(
                f"study {name!r} has no trial with id {trial_id!r}; tell, heartbeat and report take "
                "the trial's id as ask handed it out",
                code="trial_not_found",
            )
        return self.pinned(name, ref.incarnation), ref.number

    def get(self, name: str) -> Study:
        return self.run(name, self._read)

    def _read(self, handle: StudyHandle) -> Study:
        self.store.expire(handle.keys)
        header = self.store.current_header(handle.keys)
        top = self.store.top(handle.keys, handle.spec.direction.value, 1)
        best = top[0].to_trial(handle.spec.space, handle.uid) if top else None
        counts = {state: header.counts.get(state.value, 0) for state in TrialState}
        return Study(
            name=handle.name,
            uid=header.uid,
            spec=handle.spec,
            created_at=header.created_ms / 1000,
            paused=header.paused,
            effective_seed=header.seed,
            counts=counts,
            best=best,
            extra={
                "note": header.note,
                "queued": self.store.pending_count(handle.keys),
                "points": header.points,
                "warm_start": warm_report(header),
            },
        )

    def storage_ready(self) -> None:
        """Returns when storage answers; StorageUnavailable otherwise."""
        self.store.ping()

    def list(self, after: str | None, limit: int, prefixes: Sequence[str] = ()) -> tuple[list[Study], str | None]:
        """A page of studies in name order; given prefixes, only names that start with one of them.
        Only those names are read, so neither the page nor its cursor tells of any other study."""
        self.limits.check_page_size(limit)
        names: list[str] = []
        for prefix in _disjoint(prefixes) or ("",):
            names += self.store.study_names(after, limit + 1 - len(names), prefix)
            if len(names) > limit:
                break
        studies = []
        for name in names[:limit]:
            try:
                studies.append(self.get(name))
            except NotFound:
                # Deleted between the index read and now, or a half-finished delete: mend the index.
                if self.store.header(name) is None:
                    self.store.forget_study_name(name)
        next_cursor = names[limit - 1] if len(names) > limit else None
        return studies, next_cursor

    def trial_counts(self, prefixes: Sequence[str] = ()) -> Iterator[tuple[str, dict[str, int]]]:
        """Every study under the prefixes (all, given none) with its trial counts by state, as stored:
        a lease that ran out is counted once a request on its study notices it."""
        states = [state.value for state in TrialState]
        for prefix in _disjoint(prefixes) or ("",):
            after = None
            while names := self.store.study_names(after, COUNTS_CHUNK, prefix):
                for name, counts in zip(names, self.store.trial_counts(names, states), strict=True):
                    if counts is not None:
                        yield name, counts
                after = names[-1]

    def delete(self, name: str) -> None:
        handle = self.refresh(name)
        self._cache.pop(name, None)
        if not self.store.delete_study(name, handle.uid):
            raise NotFound(f"no study named {name!r}", code="study_not_found")
