"""Pruners: whether a trial's learning curve says stop now.

The decision needs the other trials' values at the same step, so it is made inside report.lua,
atomically, from per-step (median) or per-rung (asha) sorted sets: O(log n) per report. This
module owns the options and turns a report into the script's arguments.

- none: never prune (the default).
- median: prune a trial whose value at a step is worse than the median of the other trials'
  values at that step, once past `warmup_steps` and with at least `min_trials` others.
- asha: asynchronous successive halving. Rungs sit at steps min_resource * reduction_factor**k; a
  trial reaching a rung continues only while it is in the best 1/reduction_factor of the trials
  that reached that rung so far.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from .domain.stored import ReportPlan
from .options import normalize_named


class _Options(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class MedianOptions(_Options):
    warmup_steps = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0))
    min_trials = fields.Integer(load_default=5, strict=True, validate=validate.Range(min=1))


class AshaOptions(_Options):
    min_resource = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1))
    reduction_factor = fields.Integer(load_default=3, strict=True, validate=validate.Range(min=2, max=100))


PRUNERS: dict[str, type[ma.Schema]] = {"none": _Options, "median": MedianOptions, "asha": AshaOptions}


def normalize_pruner(raw: Mapping[str, Any] | None, stored: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return normalize_named("pruner", raw, PRUNERS, "none", stored)


def plan(pruner: Mapping[str, Any], step: int) -> ReportPlan:
    name = pruner["name"]
    if name == "median":
        return ReportPlan("median", warmup_steps=pruner["warmup_steps"], min_trials=pruner["min_trials"])
    if name == "asha":
        eta, rung_step = pruner["reduction_factor"], pruner["min_resource"]
        rungs: list[int] = []
        while rung_step <= step:
            rungs.append(len(rungs))
            rung_step *= eta
        return ReportPlan("asha", reduction_factor=eta, rungs=tuple(rungs))
    return ReportPlan("none")
