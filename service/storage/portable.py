"""A stored trial in every detail an export carries, and back: the inverse of the record format
(see lua/_prelude.lua) down to its flags, so an imported trial behaves as the exported one did."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .records import ask_record, draw_fields


@dataclass(frozen=True)
class PortableTrial:
    number: int
    packed: list[Any]  # params in space order, None where inactive
    source: str
    level: int | None
    attempt: int
    retry_of: int | None
    retry_failed: bool  # a failure offers the configuration again (grid points, enqueued ones)
    worker: str | None
    asked_ms: int
    state: str
    finished_ms: int | None
    value: float | None
    error: str | None
    requeued: bool  # expired and queued to be offered again
    note: str | None
    curve: tuple[tuple[int, float], ...]


_compact = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def portable(number: int, record: str, note: str | None, curve: list[tuple[int, float]]) -> PortableTrial:
    ask_text, _, result_text = record.partition("\n")
    ask = json.loads(ask_text)
    result = json.loads(result_text) if result_text else {}
    return PortableTrial(
        number=number,
        packed=ask["p"],
        source=ask["o"],
        level=ask.get("l"),
        attempt=ask.get("a", 0),
        retry_of=ask.get("r"),
        retry_failed=bool(ask.get("rf")),
        worker=ask.get("w"),
        asked_ms=ask["t"],
        state=result.get("s", "running"),
        finished_ms=result.get("f"),
        value=result.get("v"),
        error=result.get("e"),
        requeued=bool(result.get("q")),
        note=note,
        curve=tuple(curve),
    )


def record_of(trial: PortableTrial) -> str:
    """The stored record of a trial: what ask and tell would have written."""
    fields = draw_fields(
        trial.packed,
        source=trial.source,
        level=trial.level,
        attempt=trial.attempt,
        retry_of=trial.retry_of,
        retry_failed=trial.retry_failed,
    )
    record = ask_record(fields, worker=trial.worker, asked_ms=trial.asked_ms)
    if trial.state == "running":
        return record
    result: dict[str, Any] = {"f": trial.finished_ms, "s": trial.state}
    if trial.value is not None:
        result["v"] = trial.value
    if trial.error is not None:
        result["e"] = trial.error
    if trial.requeued:
        result["q"] = 1
    return record + "\n" + _compact(result)


@dataclass(frozen=True)
class QueuedSlot:
    """A configuration waiting to be handed out: a retry of a trial's, an enqueued one (its
    payload), or a grid point handed out before and lost."""

    kind: str  # "retry" | "enqueued" | "draw"
    ident: int  # the retried trial's number, or the draw index (unused for enqueued)
    payload: str | None = None


@dataclass(frozen=True)
class LevelRecord:
    level: int
    region_json: str | None  # None for level 0, whose region is the sampler's initial state
    asked: int
    done: int
    best: float | None


@dataclass
class ImportChunk:
    """What one import_chunk.lua call writes; filled by the use case, written all at once."""

    trials: list[tuple[PortableTrial, int | None]]  # with the lease deadline (ms) of a running one
    pruner: list[tuple[str, int, int, float]]  # ("step" | "rung", step or rung, number, value)
    levels: list[LevelRecord]
    queued: list[tuple[int, QueuedSlot]]  # with its place in the queue

    @classmethod
    def empty(cls) -> ImportChunk:
        return cls([], [], [], [])

    def size(self) -> int:
        return len(self.trials) + len(self.pruner) + len(self.levels) + len(self.queued)
