"""Coarse to fine, as the lecture notes describe it: fill the whole space, zoom into the region
where the best trials are, sample densely there, repeat.

Everything happens in the unit cube, so a log-scale learning rate is zoomed on its log scale. The
region of a level is shared state (SamplerState.data): a box per numeric param and the kept choices
per categorical. It changes only through `advance`, which the ask use case calls after each
reservation and applies with a compare-and-set in Redis, so racing asks never zoom twice.

A zoomed level draws from its box three ways: space-filling (Sobol again), recombining the elite
trials' values param by param, and an exploration share over the whole space.

Against getting trapped: the exploration share; a region sized by a top fraction of the trials
(at least three, not the single best) with a margin and a floor on its width, so one lucky noisy
value cannot collapse it; a best on the region's edge widens the region, so the next one reaches
past that edge and a walk along a valley speeds up rather than crawling at the floor's width; a
level with no improvement zooms closer (around a converged optimum the better part of the region
is small), and the fourth in a row, or one already at the floor, restarts.

A restart searches a box around the best, wider with each restart (RESTART_WIDTH, RESTART_GROWTH),
before the whole space: late in a run the best is more often beaten in a neighbouring basin just
past the converged box than far from it, and a restart over the whole space spent its trials where
earlier levels had already looked. Once the box would span the whole width, the restart is from
the whole space and the widening begins again (the count of restarts is shared state).

Several basins: when the best trials gather in distinct clusters (basins.py says how they are
told apart), a zoom keeps a box around each of up to `max_basins` of them instead of one box
spanning the ridge between. The main basin holds the study's best and is the level's `box`; the
others share the level's draws with it, fewer the worse their best, and recombine only their own
elite. A basin whose best stops improving is dropped and not taken up again.

A local model: a zoom fits a quadratic to the good trials near the main basin's box (local_model.py
says how) and keeps where the fit is lowest inside the box: a bowl's bottom, or, for a fit that is
no bowl but explains the values, where its descent from the best trial ends (an optimum on the edge
of a param's range, a valley); `model_share` of the main basin's draws then land around it. A smooth
objective near its optimum is a bowl, so late in a run the draws follow the curvature of the good
trials instead of only narrowing a box around them.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import marshmallow as ma
import numpy as np
from marshmallow import fields, validate
from scipy.stats import qmc

from ..domain.space import CategoricalParam, SearchSpace
from ..domain.study import Direction
from ..options import FORMER_DEFAULTS
from .base import (
    Advance,
    Draw,
    JudgePoint,
    LevelProgress,
    Ranking,
    Region,
    RegionEdit,
    Sampler,
    SamplerState,
    Scored,
    TopLoader,
)
from .basins import clusters
from .local_model import model_minimum

MIN_TOP = 3  # a region spans at least three good trials: one lucky value does not make a region
MAX_TOP = 64  # bounds a zoom's read of the values sorted set, however long the study runs
RESTART_AFTER = 4  # levels in a row without improvement before a restart
SHRINK = 0.6  # a zoom narrows the region to at most this share of its width on every param
RESTART_WIDTH = 0.2  # a first restart's box around the best: a few converged boxes wide, well short of the space
RESTART_GROWTH = 2.0  # each later restart's box this many times wider, till one spans the space: a whole-space one
EDGE = 0.1  # the best is "on an edge" within this fraction of the region's width from it
LOCAL = 0.5  # share of a zoomed level drawn near the elite trials rather than space-filling the box
JITTER = 0.25  # spread of a recombined value around its elite trial's, as a share of the box's width
ELITE = 3  # best trials a zoomed level recombines (each param's value taken from one of them)
SOBOL_CACHE = 8  # levels whose scrambled Sobol points a sampler keeps, one block each
BASIN_READ = 2  # a zoom tells basins apart among this many times its top k trials
MIN_BASIN = 2  # trials a cluster needs to be a basin of its own; a lone trial joins the main basin's box
BASIN_PATIENCE = 2  # levels in a row a basin other than the main one may go without improving
DROPPED_MEMORY = 8  # best values of dropped basins remembered, so a zoom does not take one up again
SOBOL_BLOCK = 64  # points drawn at once: a power of two (Sobol's balance), one engine call per level
MODEL_REACH = 3.0  # the local model is fitted to the good trials in a box this many times the zoomed one
MODEL_JITTER = 0.1  # spread of a draw around the local model's lowest point, as a share of the box's width


class CoarseToFineOptions(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    initial_trials = fields.Integer(
        load_default=16,
        strict=True,
        validate=validate.Range(min=2, max=100_000),
        metadata={"description": "Trials of level 0 (the whole space) and of a restart (its box), space-filling."},
    )
    trials_per_level = fields.Integer(
        load_default=10,
        strict=True,
        validate=validate.Range(min=2, max=100_000),
        metadata={"description": "Trials of each later level, asked ones included."},
    )
    top_fraction = fields.Float(
        load_default=0.15,
        validate=validate.Range(min=0.0, max=1.0, min_inclusive=False),
        metadata={"description": "Fraction of the trials so far whose points define the next region."},
    )
    margin = fields.Float(
        load_default=0.5,
        validate=validate.Range(min=0.0, max=10.0),
        metadata={"description": "The region reaches this fraction of its width past the best trials, each side."},
    )
    exploration = fields.Float(
        load_default=0.05,
        validate=validate.Range(min=0.0, max=1.0),
        metadata={
            "description": "Fraction of a zoomed level's trials sampled over the whole space.",
            FORMER_DEFAULTS: (0.15,),  # until 2026-12-02
        },
    )
    floor = fields.Float(
        load_default=0.02,
        validate=validate.Range(min=0.0, max=1.0, min_inclusive=False),
        metadata={"description": "Smallest width of a region on each param's unit scale."},
    )
    model_share = fields.Float(
        load_default=0.6,
        validate=validate.Range(min=0.0, max=1.0),
        metadata={
            "description": "Fraction of the main basin's draws around the lowest point in its box of a quadratic "
            "fitted to the good trials near it, when the fit is a bowl or explains their values; 0 turns the "
            "local model off."
        },
    )
    max_basins = fields.Integer(
        load_default=3,
        strict=True,
        validate=validate.Range(min=1, max=8),
        metadata={
            "description": "Distinct clusters of good trials a zoom keeps a box around, the best one's first; "
            "1 zooms into one box spanning them all."
        },
    )


def _clip_box(low: float, high: float, floor: float) -> list[float]:
    """[low, high] inside [0, 1], at least `floor` wide, shifted rather than cut at an edge."""
    if high - low < floor:
        middle = (low + high) / 2
        low, high = middle - floor / 2, middle + floor / 2
    if low < 0:
        low, high = 0.0, min(1.0, high - low)
    if high > 1:
        low, high = max(0.0, low - (high - 1)), 1.0
    return [low, high]


def _limited(box: Sequence[float], limit: Sequence[float] | None) -> list[float]:
    """A param's [low, high] inside its hand limits: clipped to them, or all of them where the two miss."""
    if limit is None:
        return list(box)
    low, high = max(box[0], limit[0]), min(box[1], limit[1])
    return [low, high] if low <= high else list(limit)


def _uniform(rng: random.Random, n: int) -> Sequence[float]:
    return [rng.random() for _ in range(n)]


def _reflected(x: float, low: float, high: float) -> float:
    """x folded into [low, high] by reflection at its edges: a continuous density, no mass on an edge."""
    width = high - low
    if width <= 0:
        return low
    t = (x - low) % (2 * width)
    return low + (2 * width - t if t > width else t)


class CoarseToFineSampler(Sampler):
    name = "coarse_to_fine"
    options_schema = CoarseToFineOptions
    top_read = MAX_TOP

    def __init__(self, space: SearchSpace, options: Mapping[str, Any], seed: int, direction: Direction) -> None:
        super().__init__(space, options, seed, direction)
        self._points: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        self._index = {param.name: i for i, param in enumerate(space.params)}
        # A study stored before the option existed keeps the one box it began with.
        self._max_basins: int = options.get("max_basins", 1)
        # Nor does one stored before the local model existed take it up.
        self._model_share: float = options.get("model_share", 0.0)

    def initial_state(self) -> dict[str, Any]:
        # budget: trials of this level; before: trials of earlier levels; best: the study's best
        # value when the level began; stall: levels in a row without improvement. No box: whole space.
        # Later levels may add restarts: restarts around the best since the last from the whole space.
        return {"before": 0, "budget": self.options["initial_trials"], "best": None, "stall": 0}

    # -- drawing -----------------------------------------------------------------------------

    def _sobol(self, level: int, position: int) -> Sequence[float]:
        """Point `position` of the level's scrambled Sobol sequence, from a block drawn once: a
        draw is then a lookup, not an engine reset and fast-forward."""
        with self._lock:
            points = self._points.get(level)
            if points is None or position >= len(points):
                if points is None and len(self._points) >= SOBOL_CACHE:
                    self._points.clear()
                engine = qmc.Sobol(len(self.space), scramble=True, rng=np.random.default_rng([self.seed, level]))
                points = engine.random(max(SOBOL_BLOCK, 1 << position.bit_length()))
                self._points[level] = points
            return points[position]

    def suggest(self, draw: Draw, state: SamplerState) -> dict[str, Any]:
        data = state.data
        # Hand limits (`bounds` on the unit scale, `allowed` choices) are this study's whole space
        # from then on: every draw, exploration included, stays inside them.
        bounds, allowed = data.get("bounds", {}), data.get("allowed", {})
        # Python's Mersenne Twister seeded from a string: a documented, stable stream per draw that
        # costs microseconds, where numpy's SeedSequence cost tens of them on every ask.
        rng = random.Random(f"{self.seed}:{draw.number}:{draw.attempt}")
        if state.level > 0 and rng.random() < self.options["exploration"]:
            return self.space.decode(self.space.in_region(_uniform(rng, len(self.space)), bounds, allowed))
        basin: Mapping[str, Any] = data  # the main basin's box, kept choices and elite
        if others := data.get("basins"):
            # Each other basin takes its share of the draws; the main basin takes the rest.
            pick = rng.random()
            for other in others:
                pick -= other["share"]
                if pick < 0:
                    basin = other
                    break
        box = {**bounds, **basin.get("box", {})}
        keep = {**allowed, **basin.get("keep", {})}
        elite = basin.get("elite")
        bottom = basin.get("model")
        if bottom and elite and rng.random() < self._model_share:
            return self.space.decode(self._near(rng, bottom, elite[0], box))
        if elite and rng.random() < LOCAL:
            return self.space.decode(self._recombined(rng, elite, box, keep))
        # A duplicate in the batch (attempt > 0): any point of the region will do.
        u = (
            _uniform(rng, len(self.space))
            if draw.attempt
            else self._sobol(state.level, max(draw.index - state.level_start, 0))
        )
        return self.space.decode(self.space.in_region(u, box, keep))

    def _recombined(
        self,
        rng: random.Random,
        elite: Sequence[Sequence[float | None]],
        box: Mapping[str, Sequence[float]],
        keep: Mapping[str, Sequence[int]],
    ) -> list[float]:
        """Each param from one elite trial, jittered within the box: good values of separate
        params combine, as in the separable structure TPE exploits."""
        unit = []
        for i, param in enumerate(self.space.params):
            coords: list[float] = [x for e in elite if (x := e[i]) is not None]
            if not coords:
                unit.append(rng.random())
                continue
            x = coords[rng.randrange(len(coords))]
            if isinstance(param, CategoricalParam):
                kept = keep.get(param.name)
                if kept is not None and param.choice_at(x) not in kept:
                    x = (kept[rng.randrange(len(kept))] + 0.5) / len(param.choices)
            else:
                low, high = box.get(param.name, (0.0, 1.0))
                # Reflected, not clipped: a clip put every jitter past an edge (and every elite
                # outside the box) on the edge's one value, so concurrent trials got equal params.
                x = _reflected(min(max(x, low), high) + rng.gauss(0, JITTER * (high - low)), low, high)
            unit.append(x)
        return unit

    def _near(
        self,
        rng: random.Random,
        bottom: Sequence[float | None],
        best: Sequence[float | None],
        box: Mapping[str, Sequence[float]],
    ) -> list[float]:
        """A point around the local model's bottom, within the box; params the model does not
        cover (categorical, inactive in the best) as in the best trial."""
        unit = []
        for param, centre, fallback in zip(self.space.params, bottom, best, strict=True):
            if centre is None:
                unit.append(rng.random() if fallback is None else fallback)
                continue
            low, high = box.get(param.name, (0.0, 1.0))
            unit.append(_reflected(centre + rng.gauss(0, MODEL_JITTER * (high - low)), low, high))
        return unit

    # -- zooming -----------------------------------------------------------------------------

    def judged_at(self, state: SamplerState) -> JudgePoint:
        # The level is full once its budget is asked; it is judged once half of it has finished.
        budget = state.data["budget"]
        return JudgePoint(asked=budget, done=math.ceil(budget / 2))

    def advance(self, state: SamplerState, progress: LevelProgress, top: TopLoader) -> Advance | None:
        data = state.data
        ranking = self.judged_at(state).reached(progress)
        if ranking is None:
            return None
        seen = data["before"] + progress.asked
        k = min(MAX_TOP, max(MIN_TOP, math.ceil(self.options["top_fraction"] * seen)))
        # Basins are told apart among a wider set of good trials (the main box is still the top k's):
        # right after level 0, the top k are too few to make two clusters of them.
        # The local model reads the whole bounded top-k: the good trials near a small box are
        # rarely among the few best.
        read = list(top(MAX_TOP if self._model_share else min(MAX_TOP, BASIN_READ * k), ranking))
        good = read[: min(MAX_TOP, BASIN_READ * k) if self._max_basins > 1 else k]
        best = good[:k]
        if not best:
            return None  # nothing complete yet (all failed): keep sampling this level
        box = data.get("box")
        # A level over the whole space is not judged: it always leads into a zoom. Nor is a best
        # ranked another way than the last level's (a told value and a first-rung value do not compare).
        improved = (
            box is None
            or data["best"] is None
            or data.get("ranked", Ranking.TOLD) != ranking
            or self.direction.better(best[0].value, data["best"])
        )
        stall = 0 if improved else data["stall"] + 1
        converged = box is not None and all(high - low <= self.options["floor"] * 1.5 for low, high in box.values())
        limits = {key: data[key] for key in ("bounds", "allowed") if data.get(key)}
        judged = {"best": best[0].value, "ranked": ranking.value}
        bounds, allowed = data.get("bounds", {}), data.get("allowed", {})
        restarts = data.get("restarts", 0)
        if stall >= RESTART_AFTER or (stall and converged):
            restart = {"before": seen, "budget": self.options["initial_trials"], "stall": 0, **judged, **limits}
            width = RESTART_WIDTH * RESTART_GROWTH**restarts
            if width >= 1:
                # The widening boxes found nothing: one restart from the whole space, then they begin again.
                return Advance(restart, f"no improvement in {stall} level(s): restart from the whole space")
            restart.update(restarts=restarts + 1, box=self._around(best[0], width, bounds))
            return Advance(
                restart, f"no improvement in {stall} level(s): restart in a box {width:.2g} wide around the best"
            )
        main, others, dropped = self._basins(data, good, k)
        new_box, keep = self._zoomed(self._old_box(data, main[0]), main, bounds, allowed)
        zoomed: dict[str, Any] = {
            "before": seen,
            "budget": self.options["trials_per_level"],
            "stall": stall,
            **judged,
            "box": new_box,
            "keep": keep,
            "elite": [list(s.unit) for s in main[:ELITE]],
            **limits,
        }
        if self._model_share and (bottom := self._bottom(read, new_box, main[0])):
            zoomed["model"] = bottom
        if restarts:
            zoomed["restarts"] = restarts
        if others:
            zoomed["basins"] = []
            for rank, (members, basin_stall) in enumerate(others, start=1):
                basin_box, basin_keep = self._zoomed(self._old_box(data, members[0]), members, bounds, allowed)
                zoomed["basins"].append(
                    {
                        "box": basin_box,
                        "keep": basin_keep,
                        "elite": [list(s.unit) for s in members[:ELITE]],
                        "best": members[0].value,
                        "stall": basin_stall,
                        # Basin r (the main one is 0) gets 1 / (r + 1) of the draws, normalised:
                        # more to the better ones, and never all to one.
                        "share": 1 / (rank + 1) / sum(1 / (r + 1) for r in range(len(others) + 1)),
                    }
                )
        if dropped:
            zoomed["dropped"] = dropped
        data = zoomed
        if improved:
            basins = f" in {len(others) + 1} basins" if others else ""
            at_rung = " at the pruner's first rung" if ranking is Ranking.FIRST_RUNG else ""
            return Advance(data, f"zoom around the best {len(best)} trials{at_rung}{basins}")
        # No gain around the best usually means the region is still too coarse to find the better
        # part of it: zoom closer, and restart when that keeps failing.
        return Advance(data, f"no improvement: zoom closer ({stall} of {RESTART_AFTER} before a restart)")

    def region(self, data: Mapping[str, Any]) -> Region:
        # Hand limits are the whole space of their params; the zoomed box and kept choices lie inside.
        bounds, allowed = data.get("bounds", {}), data.get("allowed", {})
        return Region(
            box={**bounds, **data.get("box", {})},
            keep={**allowed, **data.get("keep", {})},
            basins=tuple(
                Region(box={**bounds, **basin["box"]}, keep={**allowed, **basin["keep"]})
                for basin in data.get("basins", ())
            ),
        )

    def _basins(
        self, data: Mapping[str, Any], good: Sequence[Scored], k: int
    ) -> tuple[list[Scored], list[tuple[list[Scored], int]], list[float]]:
        """The good trials split into basins: the main basin's trials (those of the best k in the
        best's cluster or too lone to make a basin), each other basin's trials (best first; its best
        among the best k) with the levels it has gone without improving, and the best values of the
        basins dropped so far."""
        dropped: list[float] = list(data.get("dropped", ()))
        numeric = [i for i, param in enumerate(self.space.params) if not isinstance(param, CategoricalParam)]
        groups = clusters([[s.unit[i] for i in numeric] for s in good]) if self._max_basins > 1 else []
        main = set(groups[0] if groups else range(len(good)))
        # A basin is known by its best value: unchanged since the last zoom, it has not improved.
        before = {basin["best"]: basin["stall"] for basin in data.get("basins", ())}
        others: list[tuple[list[Scored], int]] = []
        for group in groups[1:]:
            if len(group) < MIN_BASIN or group[0] >= k:
                main.update(group)
                continue
            members = [good[i] for i in group]
            value = members[0].value
            if value in dropped or len(others) == self._max_basins - 1:
                continue
            stall = before[value] + 1 if value in before else 0
            if stall >= BASIN_PATIENCE:
                dropped = [*dropped, value][-DROPPED_MEMORY:]
                continue
            others.append((members, stall))
        return [good[i] for i in sorted(main) if i < k], others, dropped

    def _bottom(
        self, trials: Sequence[Scored], box: Mapping[str, Sequence[float]], best: Scored
    ) -> list[float | None] | None:
        """Where a quadratic fitted to the trials near the box (MODEL_REACH times as wide, same
        centre) on the numeric params the box limits and the best has is lowest inside the box (a
        bowl's bottom, or where its descent from the best ends); None where the fit cannot be
        followed. Coordinates are scaled to the wider box, so the fit sees a unit-sized
        neighbourhood at every zoom."""
        modelled = [
            i
            for i, param in enumerate(self.space.params)
            if param.name in box
            and best.unit[i] is not None
            and not isinstance(param, CategoricalParam)
            and box[param.name][1] > box[param.name][0]  # a param pinned by hand has nothing to model
        ]
        reach = []
        for i in modelled:
            low, high = box[self.space.params[i].name]
            centre, half = (low + high) / 2, MODEL_REACH * (high - low) / 2
            reach.append((max(0.0, centre - half), min(1.0, centre + half)))
        limits = list(zip(modelled, reach, strict=True))
        # The fit is to the best trial's choices: a trial with other choices is another function.
        choices = [
            (param, i, param.choice_at(u))
            for i, (param, u) in enumerate(zip(self.space.params, best.unit, strict=True))
            if isinstance(param, CategoricalParam) and u is not None
        ]
        near = [
            s
            for s in trials
            if all((x := s.unit[i]) is not None and lo <= x <= hi for i, (lo, hi) in limits)
            and all((x := s.unit[i]) is not None and param.choice_at(x) == c for param, i, c in choices)
        ]
        if not modelled or not near:
            return None
        lows = np.array([low for low, _ in reach])
        widths = np.array([high - low for low, high in reach])

        def scaled(unit: np.ndarray) -> np.ndarray:
            return (unit - lows) / widths - 0.5

        values = np.array([s.value for s in near], dtype=float)
        limited = np.array([box[self.space.params[i].name] for i in modelled])
        bottom = model_minimum(
            scaled(np.array([[s.unit[i] for i in modelled] for s in near])),
            values if self.direction is Direction.MINIMIZE else -values,
            scaled(np.array([best.unit[i] for i in modelled])),
            scaled(limited[:, 0]),
            scaled(limited[:, 1]),
        )
        if bottom is None:
            return None
        found: list[float | None] = [None] * len(self.space.params)
        for i, x in zip(modelled, lows + (bottom + 0.5) * widths, strict=True):
            low, high = box[self.space.params[i].name]
            found[i] = float(min(max(x, low), high))
        return found

    def _around(self, best: Scored, width: float, bounds: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
        """A box `width` wide on every numeric param centred on `best` (shifted inward at an edge),
        inside the hand limits; a param inactive in `best` keeps its whole range."""
        box: dict[str, list[float]] = {}
        for param, u in zip(self.space.params, best.unit, strict=True):
            if u is not None and not isinstance(param, CategoricalParam):
                box[param.name] = _limited(_clip_box(u - width / 2, u + width / 2, 0.0), bounds.get(param.name))
        return box

    def _old_box(self, data: Mapping[str, Any], best: Scored) -> Mapping[str, Sequence[float]]:
        """The box of the last level's basin that holds `best`, the main one's first and when none
        does: the box a zoom around it narrows."""
        main: Mapping[str, Sequence[float]] = data.get("box") or {}
        for box in (main, *(basin["box"] for basin in data.get("basins", ()))):
            if all(
                low <= x <= high for name, (low, high) in box.items() if (x := best.unit[self._index[name]]) is not None
            ):
                return box
        return main

    def edit(self, state: SamplerState, asked: int, change: RegionEdit) -> Mapping[str, Any]:
        """A new level with one param limited by hand: its range (a pin when low == high) or its
        choices become that param's whole space for every later draw and zoom."""
        data = dict(state.data)
        box = {name: list(bounds) for name, bounds in data.get("box", {}).items()}
        keep = {name: list(kept) for name, kept in data.get("keep", {}).items()}
        bounds = {name: list(b) for name, b in data.get("bounds", {}).items()}
        allowed = {name: list(a) for name, a in data.get("allowed", {}).items()}
        # The other basins keep what of them lies inside the new limits; one wholly outside is dropped.
        basins = []
        for basin in data.get("basins", ()):
            basin_box, basin_keep = dict(basin["box"]), dict(basin["keep"])
            if change.keep is not None:
                basin_keep[change.param] = list(change.keep)
            elif change.low is not None and change.high is not None:
                low, high = basin_box.get(change.param, (0.0, 1.0))
                low, high = max(low, change.low), min(high, change.high)
                if low > high:
                    continue
                basin_box[change.param] = [low, high]
            basins.append({**basin, "box": basin_box, "keep": basin_keep})
        if change.keep is not None:
            allowed[change.param] = keep[change.param] = list(change.keep)
        elif change.low is not None and change.high is not None:
            bounds[change.param] = box[change.param] = [change.low, change.high]
        data.pop("basins", None)
        data.pop("model", None)  # fitted to the region before the edit
        if basins:
            data["basins"] = basins
        data.update(
            before=data["before"] + asked,
            budget=self.options["trials_per_level"],
            stall=0,
            box=box,
            keep=keep,
            bounds=bounds,
            allowed=allowed,
        )
        return data

    def _zoomed(
        self,
        old_box: Mapping[str, Sequence[float]],
        best: Sequence[Scored],
        bounds: Mapping[str, Sequence[float]],
        allowed: Mapping[str, Sequence[int]],
    ) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
        """A box centred on the best trial, as wide as the top trials spread (plus the margin) but at
        least halved; an edge is no wall, since the box is centred on the best and shifted inward."""
        margin, floor = self.options["margin"], self.options["floor"]
        box: dict[str, list[float]] = {}
        keep: dict[str, list[int]] = {}
        for i, param in enumerate(self.space.params):
            points: list[float] = [u for s in best if (u := s.unit[i]) is not None]
            if not points:
                continue  # never active among the best: nothing learnt, keep it whole
            if isinstance(param, CategoricalParam):
                chosen = {param.choice_at(p) for p in points}
                limit = set(allowed.get(param.name, chosen))
                keep[param.name] = sorted(chosen & limit or limit)
                continue
            centre = points[0]
            spread = max(abs(p - centre) for p in points)
            old_low, old_high = old_box.get(param.name, (0.0, 1.0))
            old_width = old_high - old_low
            width = min(2 * (1 + margin) * spread, SHRINK * old_width)
            if (centre - old_low < EDGE * old_width and old_low > 0) or (
                old_high - centre < EDGE * old_width and old_high < 1
            ):
                # The best pressed against the region's edge: the optimum is likely past it, so
                # the region widens by the inverse of a zoom and, centred on the best, reaches past
                # it; a walk along a valley then takes longer strides, not floor-sized ones.
                width = old_width / SHRINK
            box[param.name] = _limited(_clip_box(centre - width / 2, centre + width / 2, floor), bounds.get(param.name))
        return box, keep
