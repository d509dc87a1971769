"""A study is portable: export it as newline-delimited JSON, import such a stream as a new study.

The stream, one JSON object per line, each with a `kind`:
  study    first: the format and its version, the spec, the sampler's shared state, counters
  level    each sampler level: its region record (null for level 0) and its counts
  trial    each trial: params, state, value, error, where it came from, times, note, reports
  queued   each configuration waiting to be handed out (a retry, an enqueued one, a lost grid point)
  end      last: how many of each came before, so a truncated stream is told from a whole one

Both ways stream: the export reads Redis a page at a time, the import parses a line at a time and
writes a chunk at a time (one Lua script each) into a hidden incarnation, published in one step
after the counts are checked, or swept on any failure. Memory stays bounded whatever the size.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..config import Limits
from ..domain.errors import InvalidInput, LimitExceeded, NotFound, SpaceError
from ..domain.stored import (
    DrawRecord,
    ImportChunk,
    LevelRow,
    PortableTrial,
    QueuedSlot,
    RegionRecord,
    SlotKind,
    StoredTrial,
)
from ..domain.study import Study, StudySpec, check_study_name
from ..domain.trial import MAX_ERROR, TrialState
from ..pruners import plan
from ..samplers import make_sampler
from ..storage.keys import StudyKeys
from ..storage.store import Store
from .controls import MAX_NOTE
from .studies import Studies

FORMAT = "hone-study"
FORMAT_VERSION = 1
EXPORT_PAGE = 500  # trials per Redis round trip of an export: bounded memory, few round trips
LEVEL_PAGE = 100  # sampler levels per read; a long study has a few hundred
CHUNK_WRITES = 2000  # writes per import script: each call stays a few milliseconds, Redis stays responsive
DEAD_IMPORT_MS = 3_600_000  # an import not published within an hour died; the next import of the name sweeps it
MAX_SOURCE = 64  # a trial's source is a sampler's name or a word like enqueued
QUEUE_KINDS = (SlotKind.RETRY.value, SlotKind.ENQUEUED.value, SlotKind.LOST_DRAW.value)


def _line(row: Mapping[str, Any]) -> str:
    return json.dumps(row, separators=(",", ":"), allow_nan=False) + "\n"


def _now_ms() -> int:
    return int(time.time() * 1000)


class _Row:
    """One parsed line, with checks that name the line when they fail."""

    def __init__(self, number: int, data: dict[str, Any]) -> None:
        self.number = number
        self.data = data

    def fail(self, message: str) -> InvalidInput:
        return _invalid(self.number, message)

    def get(self, key: str, types: type | tuple[type, ...], *, optional: bool = False) -> Any:
        value = self.data.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
            raise self.fail(f"{key!r} must be {_describe(types)}{' or null' if optional else ''}")
        return value

    def count(self, key: str, *, optional: bool = False) -> Any:
        value = self.get(key, int, optional=optional)
        if value is not None and value < 0:
            raise self.fail(f"{key!r} must not be negative")
        return value

    def number_value(self, key: str) -> float | None:
        value = self.get(key, (int, float), optional=True)
        if value is not None and not math.isfinite(value):
            raise self.fail(f"{key!r} must be a finite number")
        return float(value) if value is not None else None


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


_TYPE_NAMES = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
    dict: "an object",
    list: "a list",
}


def _describe(types: type | tuple[type, ...]) -> str:
    return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in _tuple(types))


def _invalid(line: int, message: str) -> InvalidInput:
    return InvalidInput(f"line {line}: {message}", code="invalid_import", details={"line": line})


def _rows(lines: Iterable[bytes], max_line: int) -> Iterator[_Row]:
    for number, raw in enumerate(lines, start=1):
        if len(raw) > max_line:
            raise _invalid(number, f"over {max_line} bytes")
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            raise _invalid(number, "not JSON (a truncated or corrupt stream?)") from None
        if not isinstance(data, dict):
            raise _invalid(number, "not a JSON object")
        yield _Row(number, data)


class Portability:
    def __init__(self, studies: Studies, store: Store, limits: Limits) -> None:
        self.studies = studies
        self.store = store
        self.limits = limits

    # -- export ------------------------------------------------------------------------------

    def export(self, name: str) -> Iterator[str]:
        """The study's lines. The study is looked up now (a missing one raises here, before any
        line); the lines are read as they are consumed. A study written to meanwhile is exported
        as it was when each page was read: pause it first for an exact copy."""
        handle = self.studies.refresh(name)
        try:
            header = self.store.current_header(handle.keys)
        except NotFound:
            raise NotFound(f"no study named {name!r}", code="study_not_found") from None
        level, seq = header.state.level, header.trials_total
        study = {
            "kind": "study",
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "name": name,
            "exported_at": _now_ms(),
            "spec": handle.spec.to_dict(),
            "created_ms": header.created_ms,
            "seed": header.seed,
            "paused": header.paused,
            "note": header.note,
            "trials_total": seq,
            "sampler": {
                "level": level,
                "version": header.state.version,
                "level_start": header.state.level_start,
                "cursor": header.draws_taken,
                "state": dict(header.state.data),
            },
            "warm_start": header.warm_start,
            "imported": header.imported,
        }
        return self._lines(handle.keys, handle.spec, study, level, seq)

    def _lines(self, keys: StudyKeys, spec: StudySpec, study: dict[str, Any], level: int, seq: int) -> Iterator[str]:
        yield _line(study)
        levels = 0
        for first in range(0, level + 1, LEVEL_PAGE):
            for row in self.store.levels(keys, list(range(first, min(first + LEVEL_PAGE, level + 1)))):
                levels += 1
                region = row.region
                yield _line(
                    {"kind": "level", "level": row.level, "asked": row.asked, "done": row.done, "best": row.best}
                    | {"reached_first_rung": row.reported}
                    | {"region": _region_row(region) if region is not None else None}
                )
        counts: Counter[str] = Counter()
        for first in range(0, seq, EXPORT_PAGE):
            for trial in self.store.export_trials(keys, range(first, min(first + EXPORT_PAGE, seq))):
                counts[trial.trial.state.value] += 1
                yield _line(_trial_row(trial, spec))
        queued = 0
        while True:
            page = self.store.queued(keys, queued, EXPORT_PAGE)
            for slot in page:
                yield _line(_queued_row(slot))
            queued += len(page)
            if len(page) < EXPORT_PAGE:
                break
        end = {"kind": "end", "trials": sum(counts.values()), "levels": levels, "queued": queued}
        yield _line(end | {"counts": dict(sorted(counts.items()))})

    # -- import ------------------------------------------------------------------------------

    def import_(self, name: str, lines: Iterable[bytes]) -> Study:
        """A new study named `name` from an export's lines; refused whole on any error."""
        check_study_name(name)
        rows = _rows(lines, self.limits.max_request_bytes)
        first = next(rows, None)
        if first is None:
            raise InvalidInput("the stream is empty", code="invalid_import")
        head = _Study(first, self.studies, self.limits)
        uid = secrets.token_hex(6)
        keys = StudyKeys(name, uid)
        self.store.begin_import(name, uid, _now_ms() - DEAD_IMPORT_MS)
        try:
            self._load(keys, head, rows)
        except BaseException:
            self.store.abort_import(name, uid)
            raise
        return self.studies.get(name)

    def _load(self, keys: StudyKeys, head: _Study, rows: Iterator[_Row]) -> None:
        spec = head.spec
        lease_ms = int(spec.lease_seconds * 1000)
        counts: Counter[str] = Counter()
        levels = regions = queued = 0
        chunk = ImportChunk()
        end: _Row | None = None
        for row in rows:
            kind = row.data.get("kind")
            if kind == "trial":
                trial = _trial_from(row, spec, head.trials_total, self.limits)
                counts[trial.trial.state.value] += 1
                running = trial.trial.state is TrialState.RUNNING
                chunk.trials.append((trial, _now_ms() + lease_ms if running else None))
                chunk.pruner.extend(_pruner_entries(spec, trial))
            elif kind == "level":
                level = _level_from(row, head.level)
                levels += 1
                regions += level.region is not None
                chunk.levels.append(level)
            elif kind == "queued":
                queued += 1
                chunk.queued.append((queued, _queued_from(row, spec, head.trials_total)))
            elif kind == "end":
                end = row
                break
            else:
                raise row.fail(f"unknown kind {kind!r}")
            if chunk.size() >= CHUNK_WRITES:
                self.store.import_chunk(keys, chunk)
                chunk = ImportChunk()
        if end is None:
            raise InvalidInput("the stream stops before its end line: it is truncated", code="truncated_import")
        extra = next(rows, None)
        if extra is not None:
            raise extra.fail("a line after the end line")
        announced = {
            "trials": end.count("trials"),
            "levels": end.count("levels"),
            "queued": end.count("queued"),
            "counts": end.get("counts", dict),
        }
        trials = sum(counts.values())
        found = {"trials": trials, "levels": levels, "queued": queued, "counts": dict(counts)}
        for what in ("trials", "levels", "queued", "counts"):
            if announced[what] != found[what]:
                raise InvalidInput(
                    f"the end line announces {announced[what]} {what}; the stream holds {found[what]}",
                    code="invalid_import",
                    details={"what": what, "expected": announced[what], "found": found[what]},
                )
        if chunk.size():
            self.store.import_chunk(keys, chunk)
        self.store.publish_import(
            keys,
            trials=trials,
            complete=counts[TrialState.COMPLETE.value],
            queued=queued,
            regions=regions,
            fields=head.fields(counts, queued),
        )


class _Study:
    """The study line of an import, checked."""

    def __init__(self, row: _Row, studies: Studies, limits: Limits) -> None:
        if row.data.get("kind") != "study" or row.data.get("format") != FORMAT:
            raise row.fail(f"the first line must be the study line of a {FORMAT!r} export")
        if row.data.get("version") != FORMAT_VERSION:
            raise InvalidInput(
                f"format version {row.data.get('version')!r} is not supported; this server reads {FORMAT_VERSION}",
                code="unsupported_format",
            )
        self.row = row
        self.spec = studies.parse_spec(row.get("spec", dict))
        # An export from elsewhere (Optuna) has no seed, sampler state or creation time: a new
        # study's are taken, and its trials come in as history the sampler starts after.
        seed = row.count("seed", optional=True)
        self.seed = seed if seed is not None else secrets.randbelow(2**32)
        if self.seed >= 2**32:
            raise row.fail("'seed' must be below 2**32")
        self.trials_total = row.count("trials_total")
        if self.trials_total > limits.max_trials_per_study:
            raise LimitExceeded(
                f"the study holds {self.trials_total} trials; the limit is {limits.max_trials_per_study}",
                code="too_many_trials",
            )
        given = row.get("sampler", dict, optional=True)
        if given is None:
            given = {"level": 0, "version": 0, "level_start": 0, "cursor": 0}
            given["state"] = make_sampler(self.spec, self.seed).initial_state()
        sampler = _Row(row.number, given)
        self.level = sampler.count("level")
        self.sampler = {key: sampler.count(key) for key in ("version", "level_start", "cursor")}
        self.state = sampler.get("state", dict)
        self.note = row.get("note", str, optional=True)
        self.paused = bool(row.get("paused", bool, optional=True))
        created_ms = row.count("created_ms", optional=True)
        self.created_ms = created_ms if created_ms is not None else _now_ms()
        self.warm_start = row.get("warm_start", dict, optional=True)
        self.source_name = row.get("name", str)

    def fields(self, counts: Mapping[str, int], queued: int) -> dict[str, Any]:
        """The study key's fields, as create.lua and the scripts since would have left them."""
        sampler = make_sampler(self.spec, self.seed)
        fields: dict[str, Any] = {
            "spec": self.spec.to_dict(),
            "created": self.created_ms,
            "seed": self.seed,
            "max_retries": self.spec.max_retries,
            "sstate": self.state,
            "seq": self.trials_total,
            "cursor": self.sampler["cursor"],
            "level": self.level,
            "sver": self.sampler["version"],
            "lstart": self.sampler["level_start"],
            "pseq": queued,
            "eseq": queued,
            "paused": int(self.paused),
            "imported": {"from": self.source_name, "at": _now_ms(), "format_version": FORMAT_VERSION},
        }
        size = sampler.size()
        if size is not None:
            fields["draw_limit"] = size
        if self.note is not None:
            fields["note"] = self.note
        if self.warm_start is not None:
            fields["warm_start"] = self.warm_start
        for state in TrialState:
            fields[f"n_{state.value}"] = counts.get(state.value, 0)
        return fields


def _trial_row(portable: PortableTrial, spec: StudySpec) -> dict[str, Any]:
    trial, draw = portable.trial, portable.trial.draw
    return {
        "kind": "trial",
        "number": trial.number,
        "params": spec.space.unpack(draw.packed),
        "state": trial.state.value,
        "value": trial.value,
        "error": trial.error,
        "source": draw.source,
        "level": draw.level,
        "attempt": draw.attempt,
        "retry_of": draw.retry_of,
        "retry_failed": draw.retry_failed,
        "requeued": portable.requeued,
        "worker": trial.worker,
        "asked_ms": trial.asked_ms,
        "finished_ms": trial.finished_ms,
        "note": trial.note,
        "reports": [list(point) for point in portable.curve],
    }


def _trial_from(row: _Row, spec: StudySpec, trials_total: int, limits: Limits) -> PortableTrial:
    number = row.count("number")
    if number >= trials_total:
        raise row.fail(f"trial {number} is past the study's {trials_total} trial numbers")
    try:
        params = spec.space.normalize(row.get("params", dict))
    except SpaceError as exc:
        raise row.fail(exc.message) from None
    state = row.get("state", str)
    if state not in {s.value for s in TrialState}:
        raise row.fail(f"unknown state {state!r}")
    value = row.number_value("value")
    if state == TrialState.COMPLETE.value and value is None:
        raise row.fail("a complete trial needs a value")
    finished_ms = row.count("finished_ms", optional=True)
    if (finished_ms is None) != (state == TrialState.RUNNING.value):
        raise row.fail("'finished_ms' is set exactly when the trial has finished")
    source = row.get("source", str)
    if not 1 <= len(source) <= MAX_SOURCE:
        raise row.fail(f"'source' must be 1-{MAX_SOURCE} characters")
    note = row.get("note", str, optional=True)
    if note is not None and len(note) > MAX_NOTE:
        raise row.fail(f"a note holds at most {MAX_NOTE} characters")
    error = row.get("error", str, optional=True)
    if error is not None and len(error) > MAX_ERROR:
        raise row.fail(f"an error holds at most {MAX_ERROR} characters")
    reports = row.get("reports", list)
    if len(reports) > limits.max_curve_points:
        raise row.fail(f"at most {limits.max_curve_points} reports per trial")
    curve: list[tuple[int, float]] = []
    for point in reports:
        if not (
            isinstance(point, list)
            and len(point) == 2
            and isinstance(point[0], int)
            and not isinstance(point[0], bool)
            and point[0] >= 0
            and isinstance(point[1], (int, float))
            and not isinstance(point[1], bool)
            and math.isfinite(point[1])
        ):
            raise row.fail("each report is [step, value]: a non-negative integer and a finite number")
        if curve and point[0] <= curve[-1][0]:
            raise row.fail("reports must be in increasing step order")
        curve.append((point[0], float(point[1])))
    draw = DrawRecord(
        packed=spec.space.pack(params),
        source=source,
        level=row.count("level", optional=True),
        attempt=row.count("attempt"),
        retry_of=row.count("retry_of", optional=True),
        retry_failed=row.get("retry_failed", bool),
    )
    trial = StoredTrial(
        number=number,
        draw=draw,
        asked_ms=row.count("asked_ms"),
        worker=row.get("worker", str, optional=True),
        state=TrialState(state),
        value=value,
        error=error,
        finished_ms=finished_ms,
        note=note,
    )
    return PortableTrial(trial, row.get("requeued", bool), tuple(curve))


def _pruner_entries(spec: StudySpec, trial: PortableTrial) -> Iterator[tuple[str, int, int, float]]:
    """The pruner's per-step or per-rung values this trial's reports left, as report.lua kept them."""
    for step, value in trial.curve:
        report = plan(spec.pruner, step)
        if report.mode == "median":
            yield ("step", step, trial.trial.number, value)
        for rung in report.rungs:
            yield ("rung", rung, trial.trial.number, value)


def _region_row(region: RegionRecord) -> dict[str, Any]:
    return {"by": region.by, "note": region.note, "state": dict(region.state)} | {
        "created_ms": region.created_ms,
        "first_draw": region.first_draw,
    }


def _level_from(row: _Row, current: int) -> LevelRow:
    level = row.count("level")
    if level > current:
        raise row.fail(f"level {level} is past the sampler's level {current}")
    given = row.get("region", dict, optional=True)
    if (given is None) != (level == 0):
        raise row.fail("every level but 0 has a region record")
    region = None
    if given is not None:
        record = _Row(row.number, given)
        region = RegionRecord(
            by=record.get("by", str),
            note=record.get("note", str),
            state=record.get("state", dict),
            created_ms=record.count("created_ms"),
            first_draw=record.count("first_draw"),
        )
    reported = row.count("reached_first_rung", optional=True) or 0  # absent from exports made before it existed
    return LevelRow(level, region, row.count("asked"), row.count("done"), row.number_value("best"), reported)


def _queued_row(slot: QueuedSlot) -> dict[str, Any]:
    if slot.kind is SlotKind.ENQUEUED:
        assert slot.enqueued is not None
        return {"kind": "queued", "what": "enqueued", "params": dict(slot.enqueued), "source": slot.enqueued_by}
    which = "trial" if slot.kind is SlotKind.RETRY else "draw"
    return {"kind": "queued", "what": slot.kind.value, which: slot.ident}


def _queued_from(row: _Row, spec: StudySpec, trials_total: int) -> QueuedSlot:
    what = row.get("what", str)
    if what == SlotKind.ENQUEUED.value:
        try:
            params = spec.space.normalize(row.get("params", dict))
        except SpaceError as exc:
            raise row.fail(exc.message) from None
        source = row.get("source", str)
        if not 1 <= len(source) <= MAX_SOURCE:
            raise row.fail(f"'source' must be 1-{MAX_SOURCE} characters")
        return QueuedSlot(SlotKind.ENQUEUED, enqueued=params, enqueued_by=source)
    if what == SlotKind.RETRY.value:
        trial = row.count("trial")
        if trial >= trials_total:
            raise row.fail(f"trial {trial} is past the study's {trials_total} trial numbers")
        return QueuedSlot(SlotKind.RETRY, trial)
    if what == SlotKind.LOST_DRAW.value:
        return QueuedSlot(SlotKind.LOST_DRAW, row.count("draw"))
    raise row.fail(f"'what' must be one of {', '.join(QUEUE_KINDS)}")
