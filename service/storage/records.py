"""The compact stored form of a trial (see lua/_prelude.lua) and its decoding into a Trial."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.space import SearchSpace
from ..domain.trial import Outcome, Trial, TrialState


@dataclass(frozen=True)
class StoredTrial:
    """A trial as stored: its record, lease deadline (ms, running trials only) and note."""

    number: int
    record: str
    deadline_ms: float | None = None
    note: str | None = None


_compact = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def draw_fields(
    packed_params: Sequence[Any],
    *,
    source: str,
    level: int | None,
    attempt: int = 0,
    retry_of: int | None = None,
    retry_failed: bool = False,
) -> str:
    """The members of an ask record that describe the configuration, without braces: a draw
    prepared ahead is stored in this form and ask.lua adds the asker, as `ask_record` does."""
    record: dict[str, Any] = {"p": list(packed_params), "o": source}
    if level is not None:
        record["l"] = level
    if attempt:
        record["a"] = attempt
    if retry_of is not None:
        record["r"] = retry_of
    if retry_failed:
        record["rf"] = 1
    return _compact(record)[1:-1]


def ask_record(fields: str, *, worker: str | None, asked_ms: int) -> str:
    """A running trial's record: its draw fields, when it was asked and by whom."""
    asker = f',"t":{asked_ms}' if worker is None else f',"t":{asked_ms},"w":{_compact(worker)}'
    return "{" + fields + asker + "}"


def result_body(outcome: Outcome) -> str:
    """The result JSON without its opening brace: tell.lua puts the finish time in front."""
    result: dict[str, Any] = {"s": outcome.state.value}
    if outcome.value is not None:
        result["v"] = outcome.value
    if outcome.error is not None:
        result["e"] = outcome.error
    return _compact(result)[1:]


ENQUEUED = "enqueued"  # the source of a configuration queued by hand


def enqueued_payload(params: Mapping[str, Any], source: str = ENQUEUED) -> str:
    """A queued configuration as stored: its params JSON, or `[source, params]` when something
    other than a hand enqueue (a warm start) chose it; params are always an object, so the two
    forms cannot be confused."""
    return _compact(dict(params) if source == ENQUEUED else [source, dict(params)])


def parse_enqueued(payload: str) -> tuple[dict[str, Any], str]:
    """(params, source) of a queued configuration."""
    data = json.loads(payload)
    if isinstance(data, list):
        return data[1], data[0]
    return data, ENQUEUED


def parse_ask(text: str) -> dict[str, Any]:
    return json.loads(text)


def decode_trial(
    number: int, record: str, space: SearchSpace, lease_deadline_ms: float | None = None, note: str | None = None
) -> Trial:
    ask_text, _, result_text = record.partition("\n")
    ask = json.loads(ask_text)
    result = json.loads(result_text) if result_text else {}
    state = TrialState(result.get("s", "running"))
    return Trial(
        number=number,
        params=space.unpack(ask["p"]),
        state=state,
        value=result.get("v"),
        worker=ask.get("w"),
        asked_at=ask["t"] / 1000,
        finished_at=result["f"] / 1000 if "f" in result else None,
        source=ask["o"],
        level=ask.get("l"),
        attempt=ask.get("a", 0),
        retry_of=ask.get("r"),
        error=result.get("e"),
        lease_expires_at=lease_deadline_ms / 1000 if lease_deadline_ms and state is TrialState.RUNNING else None,
        note=note,
    )


def decode_stored(stored: StoredTrial, space: SearchSpace) -> Trial:
    return decode_trial(stored.number, stored.record, space, stored.deadline_ms, stored.note)
