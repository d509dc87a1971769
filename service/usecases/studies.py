"""Use cases on studies: create-or-get, read, list, delete; and the per-process study cache."""

from __future__ import annotations

import functools
import json
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from ..config import Limits
from ..domain.errors import Conflict, LimitExceeded, NotFound, StaleStudy
from ..domain.stored import StudyHeader
from ..domain.study import Study, StudySpec, check_study_name
from ..domain.trial import TrialState
from ..pruners import normalize_pruner
from ..samplers import Sampler, make_sampler, normalize_sampler
from ..storage.keys import StudyKeys
from ..storage.store import Store

CACHE_SIZE = 4096  # specs are immutable; the cache only saves a read of the spec per ask
COUNTS_CHUNK = 1000  # studies whose counts are read per round trip


@dataclass(frozen=True)
class StudyHandle:
    """What every request on a study needs, cached per process; valid while the uid matches."""

    name: str
    uid: str
    spec: StudySpec
    sampler: Sampler
    seed: int
    keys: StudyKeys


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
        """Create the study, or return the stored one when the spec is the same."""
        check_study_name(name)
        spec = self.parse_spec(body)
        seed = spec.seed if spec.seed is not None else secrets.randbelow(2**32)
        sampler = make_sampler(spec, seed)
        stored = self.store.create_study(
            name, secrets.token_hex(6), spec.to_dict(), seed, spec.max_retries, sampler.size(), sampler.initial_state()
        )
        if stored is not None:
            stored_spec = StudySpec.from_dict(stored)
            differences = stored_spec.differences(spec)
            if differences:
                raise Conflict(
                    f"study {name!r} exists with a different spec; differing fields: {', '.join(differences)}",
                    code="study_exists",
                    details={"differences": differences},
                )
        return self.get(name), stored is None

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

    def run(self, name: str, action: Callable[[StudyHandle], R]) -> R:
        """action(handle). The handle comes from this process's cache; when storage finds the
        cached study stale (deleted, or deleted and created again), reload it and act once more."""
        try:
            return action(self.handle(name))
        except StaleStudy:
            return action(self.refresh(name))

    def get(self, name: str) -> Study:
        return self.run(name, self._read)

    def _read(self, handle: StudyHandle) -> Study:
        self.store.expire(handle.keys)
        header = self.store.current_header(handle.keys)
        top = self.store.top(handle.keys, handle.spec.direction.value, 1)
        best = top[0].to_trial(handle.spec.space) if top else None
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
                "trials_total": header.trials_total,
                "note": header.note,
                "queued": self.store.pending_count(handle.keys),
                "points": header.points,
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
