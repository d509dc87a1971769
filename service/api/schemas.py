"""Marshmallow schemas: they validate request shapes and generate the OpenAPI document.

Shape lives here; the rules between fields (low < high, log needs low > 0, ...) live in the domain,
so the service, its tests and stored specs share one set of rules.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from ..domain.space import NumericParam, Scale
from ..domain.study import DEFAULT_LEASE_SECONDS, DEFAULT_MAX_RETRIES, MAX_LEASE_SECONDS
from ..domain.trial import TRIAL_ORDERS, TrialState

PARAM_NAME = r"^[A-Za-z0-9_.-]{1,64}$"
WORKER_ID = r"^[\x21-\x7e]{1,128}$"  # printable ASCII, no spaces: safe in logs and headers


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class FiniteFloat(fields.Float):
    """A JSON number (never a string, a boolean, NaN or an infinity)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_nan=False, **kwargs)

    def _validated(self, value: Any) -> float:
        if isinstance(value, str):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class ScalarChoice(fields.Raw):
    """A categorical value: a string, a finite number or a boolean."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float)):
            try:
                if math.isfinite(float(value)):
                    return value
            except OverflowError:
                pass
        raise ma.ValidationError("must be a string, a finite number or a boolean")


class Timestamp(fields.String):
    """Seconds since the epoch in, ISO 8601 UTC with milliseconds out."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def comma_separated(data: Any, key: str) -> Any:
    """Query lists both ways: `?state=a&state=b` and `?state=a,b`."""
    values = data.getlist(key) if hasattr(data, "getlist") else data.get(key)
    if not values:
        return data
    data = dict(data)
    data[key] = [part for item in values for part in str(item).split(",") if part]
    return data


# -- requests ---------------------------------------------------------------------------------


class ConditionSchema(Strict):
    param = fields.String(required=True, metadata={"description": "Name of the categorical parent."})
    in_ = fields.List(
        ScalarChoice(),
        required=True,
        data_key="in",
        validate=validate.Length(min=1),
        metadata={"description": "Parent values under which this param is active."},
    )


class ParamSchema(Strict):
    name = fields.String(required=True, validate=validate.Regexp(PARAM_NAME))
    type = fields.String(required=True, validate=validate.OneOf(["float", "int", "categorical"]))
    low = FiniteFloat(metadata={"description": "float and int: lower bound, included."})
    high = FiniteFloat(metadata={"description": "float and int: upper bound, included."})
    scale = fields.String(
        validate=validate.OneOf([s.value for s in Scale]),
        metadata={
            "description": "float: linear, log or reverse_log (1 - x log-uniform; needs high < 1). "
            "int: linear or log. Default linear."
        },
    )
    step = FiniteFloat(metadata={"description": "Optional grid step; must divide high - low."})
    choices = fields.List(
        ScalarChoice(), metadata={"description": "categorical: 1 to 1000 unique strings, numbers or booleans."}
    )
    condition = fields.Nested(
        ConditionSchema, metadata={"description": "Active only when the parent takes these values."}
    )

    @ma.post_load
    def rename_condition(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if "condition" in data:
            data["condition"] = {"param": data["condition"]["param"], "in": data["condition"]["in_"]}
        return data


class SamplerSchema(ma.Schema):
    """`name` plus that sampler's options; the options are checked by the sampler itself."""

    class Meta:
        unknown = ma.INCLUDE

    name = fields.String(metadata={"description": "coarse_to_fine (default), random or grid; see the README."})


class PrunerSchema(ma.Schema):
    """`name` plus that pruner's options."""

    class Meta:
        unknown = ma.INCLUDE

    name = fields.String(
        metadata={
            "description": "none (default); median: warmup_steps, min_trials; asha: min_resource, reduction_factor."
        }
    )


class StudyBodySchema(Strict):
    direction = fields.String(load_default="minimize", validate=validate.OneOf(["minimize", "maximize"]))
    space = fields.List(fields.Nested(ParamSchema), required=True)
    sampler = fields.Nested(SamplerSchema, load_default=dict)
    seed = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=2**32 - 1)
    )
    metadata = fields.Dict(keys=fields.String(), load_default=dict)
    max_retries = fields.Integer(
        load_default=DEFAULT_MAX_RETRIES,
        strict=True,
        validate=validate.Range(min=0, max=100),
        metadata={"description": "Times a failed grid point or an expired trial's configuration is offered again."},
    )
    pruner = fields.Nested(PrunerSchema, load_default=dict)
    lease_seconds = FiniteFloat(
        load_default=DEFAULT_LEASE_SECONDS,
        validate=validate.Range(min=1, max=MAX_LEASE_SECONDS),
        metadata={"description": "How long an asked trial may run without a tell or heartbeat."},
    )


class AskBodySchema(Strict):
    count = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1))
    worker = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(WORKER_ID))
    resume = fields.Boolean(load_default=False, metadata={"description": "Give this worker its running trials back."})
    lease_seconds = FiniteFloat(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_LEASE_SECONDS)
    )


class TellBodySchema(Strict):
    state = fields.String(required=True, validate=validate.OneOf(["complete", "failed", "pruned"]))
    value = FiniteFloat(load_default=None, allow_none=True)
    error = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=10_000))


class HeartbeatBodySchema(Strict):
    lease_seconds = FiniteFloat(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_LEASE_SECONDS)
    )


class ReportBodySchema(Strict):
    step = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=2**53))
    value = FiniteFloat(required=True)


class PruneSchema(ma.Schema):
    prune = fields.Boolean(metadata={"description": "True when the study's pruner says stop this trial now."})


class CurveArgsSchema(Strict):
    numbers = fields.List(fields.Integer(validate=validate.Range(min=0)), required=True)
    max_points = fields.Integer(load_default=500, validate=validate.Range(min=2, max=10_000))

    @ma.pre_load
    def split_commas(self, data: Any, **kwargs: Any) -> Any:
        return comma_separated(data, "numbers")


class CurveSchema(ma.Schema):
    number = fields.Integer()
    points = fields.List(fields.Tuple((fields.Integer(), fields.Float())), metadata={"description": "[step, value]"})


class CurveListSchema(ma.Schema):
    curves = fields.List(fields.Nested(CurveSchema))


class EnqueueBodySchema(Strict):
    configurations = fields.List(
        fields.Dict(keys=fields.String()),
        required=True,
        metadata={"description": "Exact params, checked against the space."},
    )


class EnqueuedSchema(ma.Schema):
    id = fields.Integer()
    params = fields.Dict()


class EnqueuedListSchema(ma.Schema):
    enqueued = fields.List(fields.Nested(EnqueuedSchema))


class NoteBodySchema(Strict):
    note = fields.String(required=True, metadata={"description": "Up to 2000 characters; empty clears the note."})


class TrialListArgsSchema(Strict):
    state = fields.List(
        fields.String(validate=validate.OneOf([s.value for s in TrialState])),
        metadata={"description": "Repeat or comma-separate to filter by several states."},
    )
    order = fields.String(load_default="number", validate=validate.OneOf(TRIAL_ORDERS))
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1))
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))

    @ma.pre_load
    def split_commas(self, data: Any, **kwargs: Any) -> Any:
        return comma_separated(data, "state")


class StudyListArgsSchema(Strict):
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1))


# -- responses --------------------------------------------------------------------------------


class TrialSchema(ma.Schema):
    number = fields.Integer()
    params = fields.Dict(keys=fields.String())
    state = fields.Enum(TrialState, by_value=True)
    value = fields.Float(allow_none=True)
    worker = fields.String(allow_none=True)
    asked_at = Timestamp()
    finished_at = Timestamp(allow_none=True)
    source = fields.String(metadata={"description": "What chose the params: the sampler's name, enqueued."})
    level = fields.Integer(allow_none=True, metadata={"description": "Sampler level (coarse-to-fine zoom level)."})
    attempt = fields.Integer(metadata={"description": "0 for a first try; n for the n-th retry of a configuration."})
    retry_of = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    lease_expires_at = Timestamp(allow_none=True)
    note = fields.String(allow_none=True)


class TrialListSchema(ma.Schema):
    trials = fields.List(fields.Nested(TrialSchema))
    next_cursor = fields.String(allow_none=True)


class PriorSchema(ma.Schema):
    p10 = fields.Raw()
    p50 = fields.Raw()
    p90 = fields.Raw()


class ParamOutSchema(ma.Schema):
    name = fields.String()
    type = fields.String()
    low = fields.Raw()
    high = fields.Raw()
    scale = fields.String()
    step = fields.Raw()
    choices = fields.List(fields.Raw())
    condition = fields.Dict()
    prior = fields.Nested(
        PriorSchema, metadata={"description": "10th, 50th and 90th percentiles of the sampling prior on this scale."}
    )


def param_out(param: Any) -> dict[str, Any]:
    out: dict[str, Any] = param.to_dict()
    if isinstance(param, NumericParam):
        out["prior"] = param.prior_quantiles()
    return out


class CountsSchema(ma.Schema):
    running = fields.Integer()
    complete = fields.Integer()
    failed = fields.Integer()
    pruned = fields.Integer()
    expired = fields.Integer()
    total = fields.Integer()


class StudySchema(ma.Schema):
    name = fields.String()
    direction = fields.String()
    space = fields.List(fields.Nested(ParamOutSchema))
    sampler = fields.Dict()
    seed = fields.Integer(allow_none=True)
    effective_seed = fields.Integer(
        metadata={"description": "The seed in use: the given one, or one drawn at creation."}
    )
    metadata = fields.Dict()
    max_retries = fields.Integer()
    lease_seconds = fields.Float()
    pruner = fields.Dict()
    state = fields.String(metadata={"description": "active or paused"})
    note = fields.String(allow_none=True)
    queued = fields.Integer(metadata={"description": "Configurations waiting to be handed out first."})
    created_at = Timestamp()
    counts = fields.Nested(CountsSchema)
    points = fields.Dict(
        allow_none=True,
        metadata={"description": "Grid only: {total, remaining}, the points never handed out; null otherwise."},
    )
    best = fields.Nested(TrialSchema, allow_none=True)


class StudyListSchema(ma.Schema):
    studies = fields.List(fields.Nested(StudySchema))
    next_cursor = fields.String(allow_none=True)


class ErrorBodySchema(ma.Schema):
    code = fields.String(metadata={"description": "Stable machine-readable code, e.g. study_not_found."})
    message = fields.String()
    details = fields.Raw(allow_none=True)


class ErrorSchema(ma.Schema):
    error = fields.Nested(ErrorBodySchema)


class HealthSchema(ma.Schema):
    status = fields.String()
