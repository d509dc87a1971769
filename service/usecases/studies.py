"""Use cases on studies: create-or-get, read, list, delete; and the per-process study cache."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import Limits
from ..domain.errors import Conflict, LimitExceeded, NotFound, StudyRecreated
from ..domain.study import Study, StudySpec, check_study_name
from ..domain.trial import Trial, TrialRef, TrialState
from ..pruners import normalize_pruner
from ..samplers import Sampler, make_sampler, normalize_sampler
from ..storage.keys import StudyKeys
from ..storage.records import StoredTrial, decode_stored
from ..storage.store import StaleStudy, Store, StudyHeader

CACHE_SIZE = 4096  # specs are immutable; the cache only saves a read of the spec per ask


@dataclass(frozen=True)
class StudyHandle:
    """What every request on a study needs, cached per process; valid while the uid matches."""

    name: str
    uid: str
    spec: StudySpec
    sampler: Sampler
    seed: int
    keys: StudyKeys

    def trial(self, stored: StoredTrial) -> Trial:
        """A stored trial of this incarnation, as the domain value."""
        return decode_stored(stored, self.spec.space, self.uid)


def _spec_json(spec: StudySpec) -> str:
    return json.dumps(spec.to_dict(), separators=(",", ":"), sort_keys=True)


def _points(header: StudyHeader) -> dict[str, int] | None:
    """A finite sampler's points (a grid's), and how many were never handed out yet."""
    limit = header.fields.get("draw_limit")
    if limit is None:
        return None
    return {"total": int(limit), "remaining": int(limit) - int(header.fields.get("cursor", 0))}


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
        created, stored = self.store.create_study(
            name,
            secrets.token_hex(6),
            _spec_json(spec),
            seed,
            spec.max_retries,
            sampler.size(),
            json.dumps(sampler.initial_state()),
        )
        if not created:
            stored_spec = StudySpec.from_dict(json.loads(stored))
            differences = stored_spec.differences(spec)
            if differences:
                raise Conflict(
                    f"study {name!r} exists with a different spec; differing fields: {', '.join(differences)}",
                    code="study_exists",
                    details={"differences": differences},
                )
        return self.get(name), created

    def _handle_from(self, header: StudyHeader) -> StudyHandle:
        spec = StudySpec.from_dict(json.loads(header.spec_json))
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

    def incarnation(self, name: str, trial_id: str) -> tuple[StudyHandle, int]:
        """The handle of the incarnation a trial id names, and the trial's number; for requests
        that act on a trial handed out, which must never reach a newer incarnation's trial."""
        ref = TrialRef.parse(trial_id)
        if ref is None:
            raise NotFound(
                f"study {name!r} has no trial with id {trial_id!r}; tell, heartbeat and report take "
                "the trial's id as ask handed it out",
                code="trial_not_found",
            )
        return self.pinned(name, ref.incarnation), ref.number

    def pinned(self, name: str, uid: str) -> StudyHandle:
        """The handle of incarnation `uid` of the study; StudyRecreated when the study is another
        incarnation now, NotFound when there is none."""
        handle = self.handle(name)
        if handle.uid != uid:
            handle = self.refresh(name)  # this process may know an older incarnation than the caller
            if handle.uid != uid:
                raise StudyRecreated(name)
        return handle

    def with_handle(self, name: str, action: Any, incarnation: str | None = None) -> Any:
        """Run action(handle); if the cached study went stale, reload it and run once more.

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

    def get(self, name: str) -> Study:
        def read(handle: StudyHandle) -> Study:
            self.store.expire(handle.keys)
            header = self.store.header(name)
            if header is None or header.uid != handle.uid:
                raise StaleStudy("no such study", code="study_not_found")
            top = self.store.top(handle.keys, handle.spec.direction.value, 1)
            best = handle.trial(top[0]) if top else None
            counts = {state: header.counts.get(state.value, 0) for state in TrialState}
            return Study(
                name=name,
                uid=header.uid,
                spec=handle.spec,
                created_at=header.created_ms / 1000,
                paused=header.paused,
                effective_seed=header.seed,
                counts=counts,
                best=best,
                extra={
                    "note": header.fields.get("note"),
                    "queued": self.store.pending_count(handle.keys),
                    "points": _points(header),
                },
            )

        return self.with_handle(name, read)

    def list(
        self, after: str | None, limit: int, visible: Callable[[str], bool] = lambda name: True
    ) -> tuple[list[Study], str | None]:
        """A page of studies in name order; names that are not `visible` are skipped."""
        studies = []
        names = self.store.study_names(after, limit + 1)
        for name in names[:limit]:
            if not visible(name):
                continue
            try:
                studies.append(self.get(name))
            except NotFound:
                # Deleted between the index read and now, or a half-finished delete: mend the index.
                if self.store.header(name) is None:
                    self.store.forget_study_name(name)
        next_cursor = names[limit - 1] if len(names) > limit else None
        return studies, next_cursor

    def delete(self, name: str) -> None:
        handle = self.refresh(name)
        self._cache.pop(name, None)
        if not self.store.delete_study(name, handle.uid):
            raise NotFound(f"no study named {name!r}", code="study_not_found")
