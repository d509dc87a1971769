"""Carry configurations and a region from one search space over to another: the maths of a warm
start, when a re-tune changed the space (params added or removed, bounds or choices changed).

A configuration keeps the values of params both spaces share, loses those the new space dropped,
and draws the new ones from their prior (uniform on their own scale). A value the new space no
longer holds is clipped to the nearest bound (a vanished choice is drawn again) or, with
`skip`, costs the configuration its place. The report counts each of these per param.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from scipy.stats import qmc

from .errors import SpaceError
from .space import CategoricalParam, NumericParam, Param, SearchSpace, _finite, choice_key


class OutOfBounds(StrEnum):
    """What a warm start does with a value outside the new space."""

    CLIP = "clip"
    SKIP = "skip"


@dataclass(frozen=True)
class ProjectedConfigurations:
    configurations: tuple[dict[str, Any], ...]
    report: dict[str, Any]


def _numeric(param: NumericParam, value: Any) -> tuple[Any, str]:
    """(the value in the new param, how it got there): kept, snapped (onto a step or an int),
    clipped (to a bound) or outside (not a number: nothing to clip)."""
    if not _finite(value):
        return None, "outside"
    try:
        return param.normalize(value), "kept"
    except SpaceError:
        pass
    x = min(max(float(value), param.low), param.high)
    status = "snapped" if param.low <= float(value) <= param.high else "clipped"
    return param.from_unit(param.to_unit(x)), status


def _categorical(param: CategoricalParam, value: Any) -> tuple[Any, str]:
    try:
        return param.choices[param.index(value)], "kept"
    except SpaceError:
        return None, "outside"


def _project_one(
    params: Mapping[str, Any],
    new: SearchSpace,
    policy: OutOfBounds,
    rng: np.random.Generator,
    counts: Mapping[str, Counter[str]],
) -> dict[str, Any] | None:
    """One configuration in the new space, or None when `skip` drops it."""
    out: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for i in new.sampling_order:
        param: Param = new.params[i]
        if not new.is_active(param, out):
            continue
        if param.name not in params:
            out[param.name], seen[param.name] = param.from_unit(float(rng.random())), "drawn"
            continue
        if isinstance(param, CategoricalParam):
            value, status = _categorical(param, params[param.name])
        else:
            assert isinstance(param, NumericParam)
            value, status = _numeric(param, params[param.name])
        if status in ("clipped", "outside") and policy is OutOfBounds.SKIP:
            counts["skipped_by"][param.name] += 1
            return None
        if status == "outside":
            value, status = param.from_unit(float(rng.random())), "redrawn"
        out[param.name], seen[param.name] = value, status
    for name, status in seen.items():
        if status != "kept":
            counts[status][name] += 1
    return new.normalize(out)


def project_configurations(
    configurations: Sequence[Mapping[str, Any]],
    old: SearchSpace,
    new: SearchSpace,
    policy: OutOfBounds,
    seed: int,
) -> ProjectedConfigurations:
    """The configurations (best first) in the new space, those that carry over the same values
    once only, with a report of what happened to each param."""
    rng = np.random.default_rng([seed, 0x3A2])  # the study's seed: every worker's PUT agrees
    statuses = ("drawn", "snapped", "clipped", "redrawn", "skipped_by")
    counts: dict[str, Counter[str]] = {status: Counter() for status in statuses}
    kept: list[dict[str, Any]] = []
    keys: set[str] = set()
    skipped = duplicates = 0
    for params in configurations:
        projected = _project_one(params, new, policy, rng, counts)
        if projected is None:
            skipped += 1
            continue
        # Two configurations that agree on everything they carry over are one: their drawn params
        # would make them differ only by chance.
        carried = {name: value for name, value in projected.items() if name in params}
        key = json.dumps(new.pack(carried))
        if key in keys:
            duplicates += 1
            continue
        keys.add(key)
        kept.append(projected)
    report = {
        "considered": len(configurations),
        "enqueued": len(kept),
        "skipped": skipped,
        "duplicates": duplicates,
        "dropped_params": [p.name for p in old.params if p.name not in new.by_name],
        "added_params": [p.name for p in new.params if p.name not in old.by_name],
        **{status: dict(sorted(counter.items())) for status, counter in counts.items()},
    }
    return ProjectedConfigurations(tuple(kept), report)


@dataclass(frozen=True)
class ProjectedRegion:
    """A region on the new space's unit scale: a box per numeric param, kept choices per categorical."""

    box: dict[str, list[float]]
    keep: dict[str, list[int]]

    def draw(self, space: SearchSpace, count: int, seed: int) -> list[dict[str, Any]]:
        """`count` configurations spread over the region (scrambled Sobol points, from the study's
        seed so every worker's PUT agrees), in the space's stored form."""
        if count == 0:
            return []
        engine = qmc.Sobol(len(space), scramble=True, rng=np.random.default_rng([seed, 0x5E6]))
        points = engine.random_base2(max(0, math.ceil(math.log2(count))))[:count]
        return [space.normalize(space.decode(space.in_region(list(u), self.box, self.keep))) for u in points]

    def describe(self, space: SearchSpace) -> str:
        parts = []
        for param in space.params:
            if param.name in self.box:
                assert isinstance(param, NumericParam)
                low, high = self.box[param.name]
                parts.append(f"{param.name} {param.from_unit(low):g}..{param.from_unit(high):g}")
            elif param.name in self.keep:
                assert isinstance(param, CategoricalParam)
                parts.append(f"{param.name} in {[param.choices[i] for i in self.keep[param.name]]}")
        return ", ".join(parts)


def project_region(
    box: Mapping[str, Sequence[float]], keep: Mapping[str, Sequence[int]], old: SearchSpace, new: SearchSpace
) -> ProjectedRegion | None:
    """An old region (unit scale of `old`) on the unit scale of `new`; params whose range or
    choices the new space no longer holds are left whole. None when nothing is left narrowed."""
    new_box: dict[str, list[float]] = {}
    new_keep: dict[str, list[int]] = {}
    for param in new.params:
        before = old.by_name.get(param.name)
        if isinstance(param, NumericParam) and isinstance(before, NumericParam) and param.name in box:
            low, high = (param.to_unit(before.from_unit(u)) for u in box[param.name])
            if high > low and (low > 0 or high < 1):
                new_box[param.name] = [low, high]
        elif isinstance(param, CategoricalParam) and isinstance(before, CategoricalParam) and param.name in keep:
            values = [before.choices[i] for i in keep[param.name]]
            held = {choice_key(c) for c in param.choices}
            indices = sorted({param.index(v) for v in values if choice_key(v) in held})
            if indices and len(indices) < len(param.choices):
                new_keep[param.name] = indices
    if not new_box and not new_keep:
        return None
    return ProjectedRegion(new_box, new_keep)
