"""How stored values are written in Redis, and read back: the one place that knows the encoding.

Trial record (see lua/_prelude.lua): `<ask JSON>` while running, `<ask JSON>\\n<result JSON>`
once finished, with compact keys:
  ask:    p packed params, o source, l level, a attempt, r retry of, rf retry on failure,
          t asked ms, w worker
  result: s state, v value, e error, f finished ms, q requeued (expired and offered again)

Where JSON meets Lua. Lua's cjson would round floats if a script re-encoded a record, so the
scripts never do: they splice text written here. Three values cross as JSON object members
without braces, and this module is the only place that cuts them so:
  - `draw_members`: a draw prepared ahead (`prepared_draw`); ask.lua wraps it with the asker (t, w),
    as `ask_record` does;
  - `result_members`: a tell's result; tell.lua puts the finish time (and a pruned trial's value) in front;
  - `region_members`: a level's region record; `advance_level` (_prelude.lua) puts level, version,
    start and time in front.

The config set (keys.py `configs`) holds `config_fingerprint` of every configuration handed out.
commit.lua reads each trial's `config_mark` (the fingerprint, after a '!' for a fresh draw, which
must not repeat one); a draw prepared ahead is stored as `<fingerprint> <draw members>`, and
ask.lua hands it out only if its fingerprint is new to the set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..domain.importance import Importance, ParamImportance
from ..domain.stored import DrawRecord, JudgePoint, PortableTrial, RegionRecord, StoredTrial
from ..domain.trial import Outcome, TrialState

ENQUEUED = "enqueued"  # the source of a configuration queued by hand
_compact = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_plain = json.JSONEncoder(separators=(",", ":")).encode
# A study's spec is compared as stored text: sorted keys make equal specs equal strings.
_canonical = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode


def encode_json(value: Any) -> str:
    """A sampler state, a warm start report: compact JSON."""
    return _plain(value)


def decode_json(text: str) -> Any:
    return json.loads(text)


def encode_spec(spec: Mapping[str, Any]) -> str:
    return _canonical(spec)


def encode_enqueued(params: Mapping[str, Any], source: str) -> str:
    """A queued configuration: its params JSON, or `[source, params]` when something other than
    a hand enqueue (a warm start) chose it; params are always an object, so the forms never clash."""
    return _plain(dict(params) if source == ENQUEUED else [source, dict(params)])


def decode_enqueued(payload: str) -> tuple[dict[str, Any], str]:
    """(params, source) of a queued configuration."""
    data = json.loads(payload)
    if isinstance(data, list):
        return data[1], data[0]
    return data, ENQUEUED


def draw_members(draw: DrawRecord) -> str:
    """The members of an ask record that describe its configuration, without braces."""
    record: dict[str, Any] = {"p": list(draw.packed), "o": draw.source}
    if draw.level is not None:
        record["l"] = draw.level
    if draw.attempt:
        record["a"] = draw.attempt
    if draw.retry_of is not None:
        record["r"] = draw.retry_of
    if draw.retry_failed:
        record["rf"] = 1
    return _compact(record)[1:-1]


def config_fingerprint(packed: Sequence[Any]) -> str:
    """A configuration's 64-bit digest for the study's config set: equal params, equal fingerprint."""
    return hashlib.blake2b(_compact(list(packed)).encode(), digest_size=8).hexdigest()


def config_mark(draw: DrawRecord, *, fresh: bool) -> str:
    """How commit.lua sees a trial's configuration: its fingerprint, after a '!' when it is a
    fresh draw, which commit.lua refuses if the config set holds it already."""
    return ("!" if fresh else "") + config_fingerprint(draw.packed)


def prepared_draw(draw: DrawRecord) -> str:
    """A draw prepared ahead as ask.lua reads it: `<fingerprint> <draw members>`."""
    return f"{config_fingerprint(draw.packed)} {draw_members(draw)}"


def judge_record(version: int, judge: JudgePoint | None) -> str:
    """A level's judge point as ask.lua reads it: `<version> <asked> <done>`, or `<version>`
    alone for a level its sampler never moves."""
    return f"{version}" if judge is None else f"{version} {judge.asked} {judge.done}"


def ask_record(draw: DrawRecord, *, worker: str | None, asked_ms: int) -> str:
    """A running trial's record: its draw, when it was asked and by whom."""
    asker = f',"t":{asked_ms}' if worker is None else f',"t":{asked_ms},"w":{_compact(worker)}'
    return "{" + draw_members(draw) + asker + "}"


def result_members(outcome: Outcome) -> str:
    """A told outcome's result JSON without its opening brace."""
    result: dict[str, Any] = {"s": outcome.state.value}
    if outcome.value is not None:
        result["v"] = outcome.value
    if outcome.error is not None:
        result["e"] = outcome.error
    return _compact(result)[1:]


def region_members(region: RegionRecord) -> str:
    """A new level's region record without its opening brace."""
    return _compact({"by": region.by, "note": region.note, "state": region.state})[1:]


def decode_draw(ask: Mapping[str, Any]) -> DrawRecord:
    return DrawRecord(ask["p"], ask["o"], ask.get("l"), ask.get("a", 0), ask.get("r"), bool(ask.get("rf")))


def decode_stored_draw(record: str) -> DrawRecord:
    """The draw a stored trial record holds, running or finished."""
    return decode_draw(json.loads(record.partition("\n")[0]))


class StoredDraws(Mapping[int, DrawRecord]):
    """Trial records by number, each decoded to its draw only when looked up: a zoom reads the
    best trials' records with its reservation but decodes only those its process has not seen."""

    def __init__(self, records: Mapping[int, str]) -> None:
        self._records = records

    def __getitem__(self, number: int) -> DrawRecord:
        return decode_stored_draw(self._records[number])

    def __iter__(self) -> Iterator[int]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)


def decode_retried(ask_text: str, number: int) -> DrawRecord:
    """The draw of trial `number`, as the next attempt at its configuration."""
    ask = json.loads(ask_text)
    return DrawRecord(ask["p"], ask["o"], ask.get("l"), ask.get("a", 0) + 1, number, bool(ask.get("rf")))


def decode_trial(number: int, record: str, deadline_ms: float | None = None, note: str | None = None) -> StoredTrial:
    ask_text, _, result_text = record.partition("\n")
    ask = json.loads(ask_text)
    result = json.loads(result_text) if result_text else {}
    return StoredTrial(
        number=number,
        draw=decode_draw(ask),
        asked_ms=ask["t"],
        worker=ask.get("w"),
        state=TrialState(result.get("s", "running")),
        value=result.get("v"),
        error=result.get("e"),
        finished_ms=result.get("f"),
        deadline_ms=deadline_ms,
        note=note,
    )


def decode_region(text: str) -> RegionRecord:
    record = json.loads(text)
    return RegionRecord(record["by"], record["note"], record["state"], record["at"], record["start"])


def decode_portable(number: int, record: str, note: str | None, curve: list[tuple[int, float]]) -> PortableTrial:
    """A stored trial as an export carries it."""
    _, _, result_text = record.partition("\n")
    requeued = bool(json.loads(result_text).get("q")) if result_text else False
    return PortableTrial(decode_trial(number, record, note=note), requeued, tuple(curve))


def encode_record(portable: PortableTrial) -> str:
    """The record an imported trial is stored as: what ask and tell (or expiry) would have written."""
    trial = portable.trial
    record = ask_record(trial.draw, worker=trial.worker, asked_ms=trial.asked_ms)
    if trial.state is TrialState.RUNNING:
        return record
    members = result_members(Outcome(trial.state, trial.value, trial.error))
    if portable.requeued:
        members = members[:-1] + ',"q":1}'
    return record + '\n{"f":' + str(trial.finished_ms) + "," + members


def encode_region(level: int, region: RegionRecord) -> str:
    """An imported level's region record, as advance_level writes one (the version, which nothing
    reads back, is the level's own number)."""
    head = f'{{"level":{level},"version":{level},"start":{region.first_draw},"at":{region.created_ms},'
    return head + region_members(region)


def curve_member(step: int, value: float) -> str:
    """A learning-curve point as report.lua stores it: `<step>:<value>`."""
    return f"{step}:{value!r}"


def decode_curve(points: list[str]) -> list[tuple[int, float]]:
    return [(int(s), float(v)) for s, _, v in (point.partition(":") for point in points)]


def encode_importance(answer: Importance) -> str:
    """A cached param importance, as the field names say."""
    return _plain(dataclasses.asdict(answer))


def decode_importance(text: str) -> Importance:
    data = json.loads(text)
    params = tuple(ParamImportance(**p) for p in data.pop("params"))
    return Importance(params=params, **data)
