"""Use cases on studies: create-or-get, read, list, delete; and the per-process study cache."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import Limits
from ..domain.errors import Conflict, InvalidInput, LimitExceeded, NotFound
from ..domain.projection import OutOfBounds, project_configurations, project_region
from ..domain.study import Study, StudySpec, check_study_name
from ..domain.trial import TrialState
from ..pruners import normalize_pruner
from ..samplers import Sampler, make_sampler, normalize_sampler
from ..samplers.coarse_to_fine import CoarseToFineSampler
from ..storage.keys import StudyKeys
from ..storage.records import decode_stored, enqueued_payload
from ..storage.store import StaleStudy, Store, StudyHeader

CACHE_SIZE = 4096  # specs are immutable; the cache only saves a read of the spec per ask
DEFAULT_WARM_TOP = 10  # the old study's best ten: enough to re-find its optimum, few against any budget
# A quarter of level 0 in the old region, on top of the usual whole-space draws that notice it went stale.
DEFAULT_REGION_SHARE = 0.25
WARM_START_SOURCE = "warm_start"  # the source of a trial whose params came from an earlier study


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
    """What a warm start adds to a new study: the report it keeps, the configurations queued
    first, and the inherited region of level 0 (None: level 0 covers the whole space)."""

    report: dict[str, Any]
    queued: tuple[str, ...]
    region: dict[str, Any] | None


def warm_note(fields: Mapping[str, str]) -> str | None:
    """Level 0's note when a warm start gave it an inherited region."""
    if "warm_start" not in fields:
        return None
    region = json.loads(fields["warm_start"]).get("region")
    return region["note"] if region else None


def spec_json(spec: StudySpec) -> str:
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
            warm = self._warm_start(name, spec, seed, body["warm_start"])
            if warm.region is not None:
                assert isinstance(sampler, CoarseToFineSampler)  # _warm_start refuses a region otherwise
                state = sampler.warm_state(warm.region)
        created, stored = self.store.create_study(
            name,
            secrets.token_hex(6),
            spec_json(spec),
            seed,
            spec.max_retries,
            sampler.size(),
            json.dumps(state),
            warm_start=json.dumps(warm.report) if warm else "",
            queued=warm.queued if warm else (),
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

    def _warm_start(self, name: str, spec: StudySpec, seed: int, options: Mapping[str, Any]) -> WarmStart:
        """The best configurations of an earlier study projected onto this spec's space, and its
        final region when asked for (coarse-to-fine only)."""
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
        try:
            source = self.refresh(source_name)
        except NotFound:
            raise InvalidInput(
                f"warm_start.from: no study named {source_name!r}", code="warm_start_source_not_found"
            ) from None
        header = self.store.header(source_name)
        if header is None or header.uid != source.uid:
            raise InvalidInput(f"warm_start.from: no study named {source_name!r}", code="warm_start_source_not_found")
        old_space = source.spec.space
        rows = self.store.top(source.keys, source.spec.direction.value, top) if top else []
        best = [decode_stored(row, old_space).params for row in rows]
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
        region = None
        if wants_region:
            share = options.get("region_share", DEFAULT_REGION_SHARE)
            level = int(header.fields.get("level", 0))
            old_state = json.loads(header.fields["sstate"])
            inherited = project_region(
                {**old_state.get("bounds", {}), **old_state.get("box", {})},
                {**old_state.get("allowed", {}), **old_state.get("keep", {})},
                old_space,
                spec.space,
            )
            if inherited is None:
                note = f"the whole space: study {source_name!r} ended on a region this space does not narrow"
            else:
                region = {"box": inherited.box, "keep": inherited.keep, "share": share}
                note = (
                    f"the whole space, and {share:.0%} of its draws inside the region inherited from study "
                    f"{source_name!r} (its level {level}): {inherited.describe(spec.space)}"
                )
            report["region"] = {"share": share if region else 0.0, "from_level": level, "note": note}
        queued = tuple(enqueued_payload(p, WARM_START_SOURCE) for p in projected.configurations)
        return WarmStart(report, queued, region)

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

    def with_handle(self, name: str, action: Any) -> Any:
        """Run action(handle); if the cached study went stale, reload it and run once more."""
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
            best = decode_stored(top[0], handle.spec.space) if top else None
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
                    "trials_total": int(header.fields.get("seq", 0)),
                    "note": header.fields.get("note"),
                    "queued": self.store.pending_count(handle.keys),
                    "points": _points(header),
                    "warm_start": json.loads(header.fields["warm_start"]) if "warm_start" in header.fields else None,
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
