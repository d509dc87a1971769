"""The values the storage takes and returns, and one typed reply per outcome of each script.

`service/storage` encodes and decodes all of these (`storage/records.py`); nothing above it
knows how they are laid out in Redis. Read docs/architecture.md for the walk through an ask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .space import SearchSpace
from .trial import Trial, TrialState


@dataclass(frozen=True)
class SamplerState:
    """What every service process must agree on: changed only by an atomic compare-and-set."""

    level: int = 0
    version: int = 0
    level_start: int = 0
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportPlan:
    """What report.lua needs for one report: its mode, parameters and the rungs the step reached."""

    mode: str
    warmup_steps: int = 0
    min_trials: int = 0
    reduction_factor: int = 0
    rungs: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DrawRecord:
    """The part of a trial's record that says which configuration it runs and where that came from."""

    packed: Sequence[Any]  # the params as SearchSpace.pack lays them out
    source: str  # the sampler's name, "enqueued", or "repeat" (no configuration left that no trial had)
    level: int | None
    attempt: int = 0
    retry_of: int | None = None
    retry_failed: bool = False  # offer this configuration again when the trial fails


@dataclass(frozen=True, slots=True)
class StoredTrial:
    """A trial as stored, decoded: its draw, when and by whom it was asked, its outcome so far,
    its lease deadline (running trials only) and its note."""

    number: int
    draw: DrawRecord
    asked_ms: int
    worker: str | None
    state: TrialState
    value: float | None = None
    error: str | None = None
    finished_ms: int | None = None
    deadline_ms: float | None = None
    note: str | None = None

    def to_trial(self, space: SearchSpace, incarnation: str) -> Trial:
        """The domain's trial, of the incarnation of the study (its uid) that stored it."""
        draw = self.draw
        running = self.state is TrialState.RUNNING
        return Trial(
            number=self.number,
            incarnation=incarnation,
            params=space.unpack(draw.packed),
            state=self.state,
            value=self.value,
            worker=self.worker,
            asked_at=self.asked_ms / 1000,
            finished_at=self.finished_ms / 1000 if self.finished_ms is not None else None,
            source=draw.source,
            level=draw.level,
            attempt=draw.attempt,
            retry_of=draw.retry_of,
            error=self.error,
            lease_expires_at=self.deadline_ms / 1000 if self.deadline_ms and running else None,
            note=self.note,
        )


@dataclass(frozen=True)
class WarmDropped:
    """A warm start given up: fresh draws beat its configurations, so the rest were dropped."""

    configurations: int  # how many were still waiting
    after_trial: int  # the trial whose value decided it


@dataclass(frozen=True)
class StudyHeader:
    """A study's stored header: identity, spec, sampler state and counters."""

    name: str
    uid: str
    spec: Mapping[str, Any]  # StudySpec.to_dict() as stored
    created_ms: int
    seed: int
    paused: bool
    counts: Mapping[str, int]  # trials by state value
    trials_total: int  # trial numbers handed out: they run from 0 to this minus one
    state: SamplerState
    note: str | None
    draw_limit: int | None  # a finite sampler's points (a grid's)
    draws_taken: int  # draws handed out at least once
    warm_start: Mapping[str, Any] | None = None  # the report of the warm start it was created with
    warm_dropped: WarmDropped | None = None  # set once fresh draws beat the warm start's configurations
    imported: Mapping[str, Any] | None = None  # where an imported study came from, and when

    @property
    def points(self) -> dict[str, int] | None:
        """A finite sampler's points, and how many were never handed out yet."""
        if self.draw_limit is None:
            return None
        return {"total": self.draw_limit, "remaining": self.draw_limit - self.draws_taken}


@dataclass(frozen=True)
class RegionRecord:
    """How a level came about: who made it, why, its sampler state, when and at which draw it began."""

    by: str
    note: str
    state: Mapping[str, Any]
    created_ms: int = 0
    first_draw: int = 0


@dataclass(frozen=True)
class LevelRow:
    """One sampler level as stored: its region (None for level 0) and its trial counts."""

    level: int
    region: RegionRecord | None
    asked: int
    done: int
    best: float | None
    reported: int = 0  # trials that reached the ASHA pruner's first rung


@dataclass(frozen=True)
class Idempotency:
    """A client's Idempotency-Key and a fingerprint of the request it came with."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class Replay:
    """The stored answer to an Idempotency-Key: the request's fingerprint, the kind of request
    ("ask", "tell", "http") and its answer."""

    fingerprint: str
    kind: str
    answer: str


class Ranking(StrEnum):
    """What a zoom ranks the study's trials by."""

    TOLD = "told"  # complete trials, by the value they were told with
    # Trials that reached the ASHA pruner's first rung, running ones included, by their value
    # there: every such trial was measured at the same step, so they compare before any finishes.
    FIRST_RUNG = "first_rung"


@dataclass(frozen=True)
class LevelProgress:
    """A level's trial counts: asked, finished, and reached the ASHA pruner's first rung."""

    asked: int
    done: int
    reported: int = 0


@dataclass(frozen=True)
class JudgePoint:
    """A level's asked and finished trial counts from which its sampler may move the study to a
    new level; below either, every ask of the level may take a draw prepared ahead. Trials ranked
    at the pruner's first rung count as finished: a level with pruning is judged from trials
    still training."""

    asked: int
    done: int

    def reached(self, progress: LevelProgress) -> Ranking | None:
        """What a level with these counts is judged by, None while it cannot be judged yet.
        The first rung wins once reached, so a study that reports is judged the same way at
        every level (and its best values compare from one level to the next)."""
        if progress.asked < self.asked:
            return None
        if progress.reported >= self.done:
            return Ranking.FIRST_RUNG
        if progress.done >= self.done:
            return Ranking.TOLD
        return None


@dataclass(frozen=True)
class Prepared:
    """A draw computed ahead for the ask that takes this trial number and draw index."""

    number: int
    index: int
    draw: DrawRecord


@dataclass(frozen=True)
class Ahead:
    """Draws computed ahead at one sampler state version, with that level's judge point (None
    when the sampler never moves): ask.lua hands them out without Python while the level is
    below its judge point, or while another ask is judging it."""

    version: int
    judge: JudgePoint | None
    draws: tuple[Prepared, ...]


@dataclass(frozen=True)
class Filled:
    """A reserved trial number filled for commit.lua: its draw, and whether that is a fresh draw.
    A fresh draw must not repeat a configuration some trial has; a retry, an enqueued
    configuration or a repeat labelled as one may."""

    number: int
    draw: DrawRecord
    fresh: bool = True


# -- the ask script's replies -------------------------------------------------------------------


@dataclass(frozen=True)
class TrialReply:
    """A reply that carries one stored trial; each outcome below is its own subclass."""

    trial: StoredTrial


class SlotKind(StrEnum):
    FRESH = "fresh"  # a new draw of the sampler at this draw index
    LOST_DRAW = "draw"  # a finite sampler's draw whose ask died before it was stored
    RETRY = "retry"  # the configuration of the trial numbered `ident`, offered again
    ENQUEUED = "enqueued"  # a configuration queued by hand


@dataclass(frozen=True)
class Slot:
    """One reserved trial number and what fills it."""

    number: int
    kind: SlotKind
    ident: int  # draw index, the retried trial's number, or the enqueued id
    retried: DrawRecord | None = None  # the retried trial's draw, when it is still stored
    enqueued: Mapping[str, Any] | None = None  # the enqueued params, when still stored
    enqueued_by: str = "enqueued"  # the enqueued configuration's source: a hand enqueue or a warm start


class Handed(TrialReply):
    """Ask outcome: a draw prepared ahead was stored and leased, all in the one round trip."""


@dataclass(frozen=True)
class Replayed:
    """Ask outcome: the Idempotency-Key already has an answer."""

    replay: Replay


@dataclass(frozen=True)
class Resumed:
    """Ask outcome: the worker's own running trials, their leases renewed."""

    numbers: tuple[int, ...]


@dataclass(frozen=True)
class BestTrials:
    """The study's best trials as the ask that judges a level got them with its reservation: the
    ranking they were read by, their numbers and values best first, and each one's draw."""

    ranking: Ranking
    ranked: tuple[tuple[int, float], ...]
    draws: Mapping[int, DrawRecord]
    complete: bool  # fewer were there than asked for: these are all the ranked trials

    def serves(self, k: int, ranking: Ranking) -> bool:
        """Whether these hold the k best trials by this ranking."""
        return ranking is self.ranking and (k <= len(self.ranked) or self.complete)


@dataclass(frozen=True)
class Reserved:
    """Ask outcome: trial numbers reserved; Python fills the slots and commits them."""

    now_ms: int
    state: SamplerState
    progress: LevelProgress  # of the reservation's level, this reservation included
    next_number: int  # the trial number and draw index the next ask takes if nothing intervenes
    next_draw: int
    slots: tuple[Slot, ...]
    # The level may be judgeable and no other ask is judging it: call the sampler's `advance`.
    judge: bool = True
    # No draws of this state version are prepared ahead or being prepared: prepare them.
    prepare: bool = True
    running: int = 0  # the study's running trials: how many asks may race the next ones
    best: BestTrials | None = None  # read for an ask that judges the level, so its zoom needs no read


AskReply = Handed | Replayed | Resumed | Reserved


# -- the commit script's replies ----------------------------------------------------------------


@dataclass(frozen=True)
class LevelMove:
    """A move to a new level that a commit makes if the study is still at `version`: the ask that
    judged the level stores its trials, the move and the new level's first draws in one step.
    The new level's sequence counts from `level_start`, the draw index after that ask's
    reservation (an ask that comes between takes a draw of the old level, and the new level's
    sequence skips that index)."""

    version: int
    region: RegionRecord
    level_start: int


@dataclass(frozen=True)
class Committed:
    """Commit outcome: the trials were stored and leased until `deadline_ms`, except the `lost`
    numbers, whose reservation had expired first; `moved`: the commit made the level move asked
    of it (False when none was asked, or another caller moved the study first)."""

    deadline_ms: int
    lost: frozenset[int]
    moved: bool = False


@dataclass(frozen=True)
class Repeated:
    """Commit outcome, nothing stored: these trials' fresh draws repeat configurations some
    trial has (or one earlier in the batch); the caller draws them again."""

    numbers: frozenset[int]


CommitReply = Committed | Repeated


# -- the tell and report scripts' replies -----------------------------------------------------


class Recorded(TrialReply):
    """Tell outcome: this tell recorded the trial's outcome."""


class AlreadyTold(TrialReply):
    """Tell outcome: the trial had finished before; the caller compares outcomes."""


class Reoffered(TrialReply):
    """Tell outcome: the trial expired and its configuration went to another trial; not recorded."""


TellReply = Recorded | AlreadyTold | Reoffered | Replayed


@dataclass(frozen=True)
class Verdict:
    """Report outcome: the point was recorded; whether the pruner says stop."""

    prune: bool


class Finished(TrialReply):
    """Report outcome: the trial has finished, so it reports no more."""


ReportReply = Verdict | Finished


# -- export and import ------------------------------------------------------------------------


@dataclass(frozen=True)
class PortableTrial:
    """A stored trial with everything an export carries besides: its learning curve, and whether
    it expired with its configuration queued to be offered again."""

    trial: StoredTrial
    requeued: bool
    curve: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class QueuedSlot:
    """A configuration waiting to be handed out: a retry (`ident`: the trial), a lost grid draw
    (`ident`: the draw index), or an enqueued one (its params and source)."""

    kind: SlotKind
    ident: int = 0
    enqueued: Mapping[str, Any] | None = None
    enqueued_by: str = "enqueued"


@dataclass
class ImportChunk:
    """What one import_chunk.lua call writes, all of it or none; filled by the import use case."""

    trials: list[tuple[PortableTrial, int | None]] = field(default_factory=list)  # with a running one's lease deadline
    pruner: list[tuple[str, int, int, float]] = field(default_factory=list)  # ("step" | "rung", which, number, value)
    levels: list[LevelRow] = field(default_factory=list)
    queued: list[tuple[int, QueuedSlot]] = field(default_factory=list)  # with its place in the queue

    def size(self) -> int:
        return len(self.trials) + len(self.pruner) + len(self.levels) + len(self.queued)
