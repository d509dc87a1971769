"""Marshmallow schemas: they validate request shapes and generate the OpenAPI document.

Shape lives here; the rules between fields (low < high, log needs low > 0, ...) live in the domain,
so the service, its tests and stored specs share one set of rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from ..config import Limits
from ..domain.limits import MAX_STEP
from ..domain.space import NumericParam, Scale
from ..domain.study import DEFAULT_LEASE_SECONDS, DEFAULT_MAX_RETRIES, MAX_LEASE_SECONDS, STUDY_NAME
from ..domain.trial import MAX_ERROR, TRIAL_ORDERS, TrialState
from ..pruners import PRUNERS
from ..samplers import SAMPLERS
from ..usecases.controls import MAX_NOTE
from ..usecases.studies import DEFAULT_REGION_SHARE, DEFAULT_WARM_TOP

PARAM_NAME = r"^[A-Za-z0-9_.-]{1,64}$"
WORKER_ID = r"^[\x21-\x7e]{1,128}$"  # printable ASCII, no spaces: safe in logs and headers
SCALAR = {"type": ["string", "number", "boolean"]}  # what a categorical choice, and so a param value, may be
NUMBER = {"type": "number"}  # an int param's bounds stay ints on the wire; a float's are floats


def bounded_by(name: str) -> dict[str, str]:
    """Field metadata: this field's bound is the deployment's `Limits.<name>` (see limits_in_document)."""
    assert name in Limits.__dataclass_fields__, name
    return {"limit": name}


def limits_in_document(limits: Limits) -> Callable[..., dict[str, int]]:
    """An apispec attribute function writing each `bounded_by(...)` field's bound from these limits.

    The server checks the same `Limits` object, so the document and the checks cannot drift.
    """

    def hone_limit(converter: Any, field: fields.Field[Any], **kwargs: Any) -> dict[str, int]:
        name = field.metadata.get("limit")
        if name is None:
            return {}
        key = "maxItems" if isinstance(field, fields.List) else "maximum"
        return {key: getattr(limits, name)}

    return hone_limit


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


class JsonInteger(fields.Integer):
    """An integer as JSON Schema reads one: 3 or 3.0, never 3.5, a string or a boolean."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._validated(value)


class JsonBoolean(fields.Boolean):
    """true or false; marshmallow would also take "yes", 1 and "on", which JSON Schema's boolean does not."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class ScalarChoice(fields.Raw):
    """A categorical value: a string, a finite number or a boolean."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={**SCALAR, **kwargs.pop("metadata", {})}, **kwargs)

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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"format": "date-time", **kwargs.pop("metadata", {})}, **kwargs)

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
            "description": "float: linear, log, reverse_log (1 - x log-uniform; needs high < 1) or logit "
            "(log(x / (1 - x)) uniform, for fractions; needs 0 < low and high < 1). "
            "int: linear or log. Default linear."
        },
    )
    step = FiniteFloat(metadata={"description": "Optional grid step; must divide high - low."})
    choices = fields.List(
        ScalarChoice(),
        metadata={
            "description": "categorical: unique strings, numbers or booleans.",
            "minItems": 1,  # the domain checks it, naming the rule
            **bounded_by("max_choices"),
        },
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

    name = fields.String(
        metadata={"description": "The sampler; coarse_to_fine by default. See the README.", "enum": list(SAMPLERS)}
    )


def options_dict(description: str) -> fields.Dict:
    """A sampler's or pruner's settings as answered: its `name` and its own options."""
    return fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={"description": description, "properties": {"name": {"type": "string"}}},
    )


class PrunerSchema(ma.Schema):
    """`name` plus that pruner's options."""

    class Meta:
        unknown = ma.INCLUDE

    name = fields.String(
        metadata={
            "description": "none (default); median: warmup_steps, min_trials; asha: min_resource, reduction_factor.",
            "enum": list(PRUNERS),
        }
    )


class WarmStartSchema(Strict):
    from_ = fields.String(
        required=True,
        data_key="from",
        validate=validate.Regexp(STUDY_NAME),
        metadata={"description": "The earlier study whose best configurations (and region) to start from."},
    )
    top = JsonInteger(
        load_default=DEFAULT_WARM_TOP,
        validate=validate.Range(min=0),
        metadata={
            "description": "How many of its best configurations to hand out, alternating with fresh draws.",
            **bounded_by("max_enqueue_count"),
        },
    )
    region = JsonBoolean(
        load_default=False,
        metadata={
            "description": "coarse_to_fine: a share of level 0 drawn inside its final region, as warm-start "
            "configurations judged with the top ones; the rest anywhere."
        },
    )
    region_share = FiniteFloat(
        load_default=DEFAULT_REGION_SHARE,
        validate=validate.Range(min=0.0, max=1.0, min_inclusive=False, max_inclusive=False),
        metadata={"description": "The share of level 0 drawn inside the inherited region (level 0 grows by it)."},
    )
    out_of_bounds = fields.String(
        load_default="clip",
        validate=validate.OneOf(["clip", "skip"]),
        metadata={"description": "A value outside the new space: clip it to the nearest bound, or skip its config."},
    )

    @ma.post_load
    def _rename(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["from"] = data.pop("from_")
        return data


class StudyBodySchema(Strict):
    direction = fields.String(load_default="minimize", validate=validate.OneOf(["minimize", "maximize"]))
    space = fields.List(fields.Nested(ParamSchema), required=True, metadata={"minItems": 1, **bounded_by("max_params")})
    sampler = fields.Nested(SamplerSchema, load_default=dict)
    seed = JsonInteger(load_default=None, allow_none=True, validate=validate.Range(min=0, max=2**32 - 1))
    metadata = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "Any JSON object, kept with the study (HONE_MAX_METADATA_BYTES at most)."},
    )
    max_retries = JsonInteger(
        load_default=DEFAULT_MAX_RETRIES,
        validate=validate.Range(min=0, max=100),
        metadata={"description": "Times a failed grid point or an expired trial's configuration is offered again."},
    )
    pruner = fields.Nested(PrunerSchema, load_default=dict)
    lease_seconds = FiniteFloat(
        load_default=DEFAULT_LEASE_SECONDS,
        validate=validate.Range(min=1, max=MAX_LEASE_SECONDS),
        metadata={"description": "How long an asked trial may run without a tell or heartbeat."},
    )
    warm_start = fields.Nested(
        WarmStartSchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "Start from an earlier study; applied when the study is created, not compared after."},
    )


class AskBodySchema(Strict):
    count = JsonInteger(load_default=1, validate=validate.Range(min=1), metadata=bounded_by("max_ask_count"))
    worker = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(WORKER_ID))
    resume = JsonBoolean(load_default=False, metadata={"description": "Give this worker its running trials back."})
    lease_seconds = FiniteFloat(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_LEASE_SECONDS)
    )


class TellBodySchema(Strict):
    state = fields.String(required=True, validate=validate.OneOf(["complete", "failed", "pruned"]))
    value = FiniteFloat(load_default=None, allow_none=True)
    error = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=MAX_ERROR))


class HeartbeatBodySchema(Strict):
    lease_seconds = FiniteFloat(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_LEASE_SECONDS)
    )


class ReportBodySchema(Strict):
    step = JsonInteger(required=True, validate=validate.Range(min=0, max=MAX_STEP))
    value = FiniteFloat(required=True)


class PruneSchema(ma.Schema):
    prune = fields.Boolean(
        required=True, metadata={"description": "True when the study's pruner says stop this trial now."}
    )


class CurveArgsSchema(Strict):
    numbers = fields.List(
        fields.Integer(validate=validate.Range(min=0)),
        required=True,
        metadata={"description": "Trial numbers; repeat or comma-separate.", **bounded_by("max_page_size")},
    )
    max_points = fields.Integer(load_default=500, validate=validate.Range(min=2, max=10_000))

    @ma.pre_load
    def split_commas(self, data: Any, **kwargs: Any) -> Any:
        return comma_separated(data, "numbers")


# [step, value]: typed as two numbers, since generators do not read prefixItems (the step is an integer).
CURVE_POINT = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": 2,
    "maxItems": 2,
    "description": "[step, value]",
}


class CurveSchema(ma.Schema):
    number = fields.Integer(required=True)
    points = fields.List(fields.Raw(metadata=CURVE_POINT), required=True)


class CurveListSchema(ma.Schema):
    curves = fields.List(fields.Nested(CurveSchema), required=True)


def params_dict(**kwargs: Any) -> fields.Dict:
    """A configuration: param name -> value (params inactive under their condition are absent)."""
    return fields.Dict(keys=fields.String(), values=ScalarChoice(), **kwargs)


class StudyPinSchema(Strict):
    """The body of a hand control, which may name the incarnation of the study it is meant for."""

    study_id = fields.String(
        load_default=None,
        metadata={
            "description": "The study's id as read: if the study was deleted and created again since, "
            "the request answers 409 study_recreated and changes nothing."
        },
    )


class EnqueueBodySchema(StudyPinSchema):
    configurations = fields.List(
        params_dict(),
        required=True,
        metadata={
            "description": "Exact params, checked against the space.",
            "minItems": 1,
            **bounded_by("max_enqueue_count"),
        },
    )


class EnqueuedSchema(ma.Schema):
    id = fields.Integer(required=True)
    params = params_dict(required=True)


class EnqueuedListSchema(ma.Schema):
    enqueued = fields.List(fields.Nested(EnqueuedSchema), required=True)


class NoteBodySchema(Strict):
    note = fields.String(required=True, metadata={"description": "Empty clears the note.", "maxLength": MAX_NOTE})


class TrialListArgsSchema(Strict):
    state = fields.List(
        fields.String(validate=validate.OneOf([s.value for s in TrialState])),
        metadata={"description": "Repeat or comma-separate to filter by several states."},
    )
    order = fields.String(load_default="number", validate=validate.OneOf(TRIAL_ORDERS))
    cursor = fields.String(load_default=None, metadata={"description": "next_cursor of the previous page."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1), metadata=bounded_by("max_page_size"))
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(["json", "csv"]),
        metadata={"description": "csv: every matching trial as text/csv, one column per param (no paging)."},
    )

    @ma.pre_load
    def split_commas(self, data: Any, **kwargs: Any) -> Any:
        return comma_separated(data, "state")


class StudyListArgsSchema(Strict):
    cursor = fields.String(load_default=None, metadata={"description": "next_cursor of the previous page."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1), metadata=bounded_by("max_page_size"))


# -- responses --------------------------------------------------------------------------------


class TrialSchema(ma.Schema):
    id = fields.String(
        required=True,
        metadata={
            "description": "Opaque: names this trial of this incarnation of the study. Tell, heartbeat and "
            "report address the trial by it, so a worker of a study deleted and created again since "
            "gets 409 study_recreated instead of reaching the new trial with the same number."
        },
    )
    number = fields.Integer(
        required=True, metadata={"description": "From 0, study-wide, in the order trials were asked."}
    )
    params = params_dict(required=True)
    state = fields.Enum(TrialState, by_value=True, required=True, metadata={"type": "string"})
    value = fields.Float(required=True, allow_none=True)
    worker = fields.String(required=True, allow_none=True)
    asked_at = Timestamp(required=True)
    finished_at = Timestamp(required=True, allow_none=True)
    source = fields.String(
        required=True,
        metadata={
            "description": "What chose the params: the sampler's name (a retry keeps its original's), enqueued, "
            "or repeat (the region had no configuration left that no trial has)."
        },
    )
    level = fields.Integer(
        required=True, allow_none=True, metadata={"description": "Sampler level (coarse-to-fine zoom level)."}
    )
    attempt = fields.Integer(
        required=True, metadata={"description": "0 for a first try; n for the n-th retry of a configuration."}
    )
    retry_of = fields.Integer(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    lease_expires_at = Timestamp(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)


class AskedSchema(ma.Schema):
    trials = fields.List(fields.Nested(TrialSchema), required=True)


class TrialListSchema(ma.Schema):
    trials = fields.List(fields.Nested(TrialSchema), required=True)
    next_cursor = fields.String(
        required=True, allow_none=True, metadata={"description": "Pass as cursor for the next page; null at the end."}
    )


class PriorSchema(ma.Schema):
    p10 = fields.Raw(required=True, metadata=NUMBER)
    p50 = fields.Raw(required=True, metadata=NUMBER)
    p90 = fields.Raw(required=True, metadata=NUMBER)


class ConditionOutSchema(ma.Schema):
    param = fields.String(required=True)
    in_ = fields.List(ScalarChoice(), required=True, data_key="in", attribute="in")


class ParamOutSchema(ma.Schema):
    name = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(["float", "int", "categorical"]))
    low = fields.Raw(metadata=NUMBER)
    high = fields.Raw(metadata=NUMBER)
    scale = fields.String(validate=validate.OneOf([s.value for s in Scale]))
    step = fields.Raw(metadata=NUMBER)
    choices = fields.List(ScalarChoice())
    condition = fields.Nested(ConditionOutSchema)
    prior = fields.Nested(
        PriorSchema, metadata={"description": "10th, 50th and 90th percentiles of the sampling prior on this scale."}
    )


def param_out(param: Any) -> dict[str, Any]:
    out: dict[str, Any] = param.to_dict()
    if isinstance(param, NumericParam):
        out["prior"] = param.prior_quantiles()
    return out


class CountsSchema(ma.Schema):
    running = fields.Integer(required=True)
    complete = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    pruned = fields.Integer(required=True)
    expired = fields.Integer(required=True)
    total = fields.Integer(
        required=True, metadata={"description": "Every trial, in any state: the trials a listing shows."}
    )


class PointsSchema(ma.Schema):
    total = fields.Integer(required=True)
    remaining = fields.Integer(required=True)


def counts_by_param(description: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(), values=fields.Integer(), required=True, metadata={"description": description}
    )


class WarmStartRegionReportSchema(ma.Schema):
    share = fields.Float(required=True, metadata={"description": "The share of level 0 drawn inside it; 0 if none."})
    configurations = fields.Integer(
        required=True, metadata={"description": "Warm-start configurations drawn inside it, queued after the top ones."}
    )
    from_level = fields.Integer(required=True, metadata={"description": "The earlier study's level it ended on."})
    note = fields.String(required=True, metadata={"description": "The inherited region, in words."})


class WarmStartAbandonedSchema(ma.Schema):
    dropped = fields.Integer(required=True, metadata={"description": "Configurations still queued, dropped."})
    after_trial = fields.Integer(
        required=True, metadata={"description": "The trial number whose value showed fresh draws beat them all."}
    )


class WarmStartReportSchema(ma.Schema):
    from_ = fields.String(required=True, data_key="from", attribute="from")
    from_uid = fields.String(required=True, metadata={"description": "That study's uid (a recreated name differs)."})
    top = fields.Integer(required=True)
    out_of_bounds = fields.String(required=True, validate=validate.OneOf(["clip", "skip"]))
    considered = fields.Integer(required=True, metadata={"description": "Its best configurations read."})
    enqueued = fields.Integer(required=True, metadata={"description": "Configurations queued in this study."})
    skipped = fields.Integer(required=True, metadata={"description": "Dropped by out_of_bounds=skip."})
    duplicates = fields.Integer(required=True, metadata={"description": "Dropped as equal to one queued before."})
    dropped_params = fields.List(fields.String(), required=True, metadata={"description": "Params only it had."})
    added_params = fields.List(fields.String(), required=True, metadata={"description": "Params only this has."})
    drawn = counts_by_param("Values drawn for added params, per param.")
    snapped = counts_by_param("Values moved to the nearest grid step or int, per param.")
    clipped = counts_by_param("Values clipped into the new bounds, per param.")
    redrawn = counts_by_param("Values with nothing to clip to (a removed choice), drawn anew, per param.")
    skipped_by = counts_by_param("Configurations skipped for a value of this param, per param.")
    region = fields.Nested(
        WarmStartRegionReportSchema,
        required=True,
        allow_none=True,
        metadata={"description": "What was inherited of its final region; null unless asked for."},
    )
    abandoned = fields.Nested(
        WarmStartAbandonedSchema,
        required=True,
        allow_none=True,
        metadata={
            "description": "Its configurations alternate with fresh draws; once two completed and a fresh draw "
            "beat them all, the rest are dropped (the old optimum moved). null while they are not."
        },
    )


class StudySchema(ma.Schema):
    id = fields.String(
        required=True,
        metadata={"description": "Opaque: this incarnation of the study. Deleted and created again, it is another."},
    )
    name = fields.String(required=True)
    direction = fields.String(required=True, validate=validate.OneOf(["minimize", "maximize"]))
    space = fields.List(fields.Nested(ParamOutSchema), required=True)
    sampler = options_dict("The sampler's name and its options.")
    seed = fields.Integer(required=True, allow_none=True)
    effective_seed = fields.Integer(
        required=True, metadata={"description": "The seed in use: the given one, or one drawn at creation."}
    )
    metadata = fields.Dict(keys=fields.String(), required=True)
    max_retries = fields.Integer(required=True)
    lease_seconds = fields.Float(required=True)
    pruner = options_dict("The pruner's name and its options; {} for none.")
    state = fields.String(required=True, validate=validate.OneOf(["active", "paused"]))
    note = fields.String(required=True, allow_none=True)
    queued = fields.Integer(
        required=True, metadata={"description": "Configurations waiting to be handed out: retries, enqueued, warm."}
    )
    created_at = Timestamp(required=True)
    counts = fields.Nested(CountsSchema, required=True)
    points = fields.Nested(
        PointsSchema,
        required=True,
        allow_none=True,
        metadata={"description": "Grid only: the points never handed out; null otherwise."},
    )
    best = fields.Nested(
        TrialSchema, required=True, allow_none=True, metadata={"description": "null until a trial completes."}
    )
    warm_start = fields.Nested(
        WarmStartReportSchema,
        required=True,
        allow_none=True,
        metadata={
            "description": "Where a warm-started study came from and what the projection did; null for a cold start."
        },
    )


class StudyListSchema(ma.Schema):
    studies = fields.List(fields.Nested(StudySchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class ErrorBodySchema(ma.Schema):
    code = fields.String(required=True, metadata={"description": "Stable machine-readable code, e.g. study_not_found."})
    message = fields.String(required=True)
    details = fields.Raw(required=True, allow_none=True, metadata={"description": "Any JSON; null when none."})


class ErrorSchema(ma.Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class HealthSchema(ma.Schema):
    status = fields.String(required=True)
