"""Search spaces: each parameter owns the bijection between its own scale and the unit interval.

Samplers work in the unit cube and never branch on log, linear or integer: `from_unit` maps a
coordinate in [0, 1] to a value (scale warp, integer rounding, step snapping) and `to_unit` maps
back. `reverse_log` samples 1 - x log-uniformly, as the lecture notes do for momentum; `logit`
samples log(x / (1 - x)) uniformly, for fractions in (0, 1) that matter near both ends (dropout,
subsample ratios).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .errors import SpaceError
from .limits import MAX_EXACT_INT

Choice = str | int | float | bool

MAX_PARAMS = 100
MAX_CHOICES = 1000
PRIOR_QUANTILES = (0.1, 0.5, 0.9)


class Scale(StrEnum):
    LINEAR = "linear"
    LOG = "log"
    REVERSE_LOG = "reverse_log"
    LOGIT = "logit"


def _logit(x: float) -> float:
    return math.log(x) - math.log1p(-x)


def _expit(t: float) -> float:
    # Both branches keep exp() from overflowing at either end.
    if t >= 0:
        return 1.0 / (1.0 + math.exp(-t))
    z = math.exp(t)
    return z / (1.0 + z)


def choice_key(value: Any) -> tuple[str, Any]:
    """Identity of a categorical value: True is not 1, but 1 and 1.0 are the same number."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    return ("string", value)


@dataclass(frozen=True)
class Condition:
    """The param is active only while `parent` (a categorical) takes one of `values`."""

    parent: str
    values: tuple[Choice, ...]

    def holds(self, parent_value: Any) -> bool:
        key = choice_key(parent_value)
        return any(choice_key(v) == key for v in self.values)

    def to_dict(self) -> dict[str, Any]:
        return {"param": self.parent, "in": list(self.values)}


@dataclass(frozen=True)
class Param(ABC):
    name: str
    condition: Condition | None

    type = "param"

    @abstractmethod
    def from_unit(self, u: float) -> Any:
        """A point of [0, 1] -> a value on this param's scale."""

    @abstractmethod
    def to_unit(self, value: Any) -> float:
        """A value -> its point of [0, 1]; the inverse of from_unit."""

    @abstractmethod
    def normalize(self, value: Any) -> Any:
        """The stored form of a user-given value; raises SpaceError if it is outside the param."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        out.update(self._fields())
        if self.condition is not None:
            out["condition"] = self.condition.to_dict()
        return out

    @abstractmethod
    def _fields(self) -> dict[str, Any]:
        """The type-specific part of the wire form."""


def warp(scale: Scale, low: float, high: float, u: float) -> float:
    """[0, 1] -> [low, high] on the given scale."""
    if scale is Scale.LINEAR:
        return low + u * (high - low)
    if scale is Scale.LOG:
        return math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    if scale is Scale.LOGIT:
        return _expit(_logit(low) + u * (_logit(high) - _logit(low)))
    return 1.0 - math.exp(math.log1p(-low) + u * (math.log1p(-high) - math.log1p(-low)))


def unwarp(scale: Scale, low: float, high: float, x: float) -> float:
    """[low, high] -> [0, 1] on the given scale; the inverse of warp."""
    if scale is Scale.LINEAR:
        return (x - low) / (high - low)
    if scale is Scale.LOG:
        return (math.log(x) - math.log(low)) / (math.log(high) - math.log(low))
    if scale is Scale.LOGIT:
        return (_logit(x) - _logit(low)) / (_logit(high) - _logit(low))
    return (math.log1p(-x) - math.log1p(-low)) / (math.log1p(-high) - math.log1p(-low))


def _decimals(x: float) -> int:
    exponent = Decimal(repr(x)).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@dataclass(frozen=True)
class NumericParam(Param):
    low: float
    high: float
    scale: Scale
    step: float | None
    # The warp runs over [warp_low, warp_high]: for a stepped log scale it reaches half a step
    # past each end so the end points get a full bucket of probability, like the inner points.
    warp_low: float = field(init=False, repr=False, compare=False)
    warp_high: float = field(init=False, repr=False, compare=False)
    last_index: int = field(init=False, repr=False, compare=False)
    ndigits: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        low, high, step = self.low, self.high, self.step
        warp_low, warp_high, last_index, ndigits = low, high, 0, 15
        if step is not None:
            last_index = round((high - low) / step)
            ndigits = min(15, max(_decimals(low), _decimals(step)))
            if (
                (self.scale is Scale.LOG and low - step / 2 > 0)
                or (self.scale is Scale.REVERSE_LOG and high + step / 2 < 1)
                or (self.scale is Scale.LOGIT and low - step / 2 > 0 and high + step / 2 < 1)
            ):
                warp_low, warp_high = low - step / 2, high + step / 2
        object.__setattr__(self, "warp_low", warp_low)
        object.__setattr__(self, "warp_high", warp_high)
        object.__setattr__(self, "last_index", last_index)
        object.__setattr__(self, "ndigits", ndigits)

    def _at_index(self, index: int) -> float:
        assert self.step is not None
        index = min(max(index, 0), self.last_index)
        return self._cast(round(self.low + index * self.step, self.ndigits))

    def _cast(self, x: float) -> float:
        # Twelve significant digits: far finer than any hyperparameter matters, and a third
        # shorter to store and read than a float's full seventeen.
        return min(max(float(f"{x:.12g}"), self.low), self.high)

    def from_unit(self, u: float) -> Any:
        u = min(max(u, 0.0), 1.0)
        if self.step is None:
            return self._cast(warp(self.scale, self.warp_low, self.warp_high, u))
        if self.scale is Scale.LINEAR:
            # Equal mass on every grid point, end points included.
            return self._at_index(min(int(u * (self.last_index + 1)), self.last_index))
        return self._snap(warp(self.scale, self.warp_low, self.warp_high, u))

    def to_unit(self, value: Any) -> float:
        x = float(value)
        if self.step is not None and self.scale is Scale.LINEAR:
            index = round((x - self.low) / self.step)
            return (index + 0.5) / (self.last_index + 1)
        return min(max(unwarp(self.scale, self.warp_low, self.warp_high, x), 0.0), 1.0)

    def grid(self, n: int) -> list[Any]:
        """n distinct values spaced evenly on this param's own scale, ends included."""
        if n == 1:
            return [self.from_unit(0.5)]
        values: list[Any] = []
        seen: set[Any] = set()
        for i in range(n):
            value = self._snap(warp(self.scale, self.low, self.high, i / (n - 1)))
            if value not in seen:
                seen.add(value)
                values.append(value)
        return values

    def _snap(self, x: float) -> Any:
        if self.step is None:
            return self._cast(x)
        return self._at_index(round((x - self.low) / self.step))

    def normalize(self, value: Any) -> Any:
        if not _finite(value):
            raise SpaceError(self.name, "type", f"expected a finite number, got {value!r}")
        if not self.low <= value <= self.high:
            raise SpaceError(self.name, "bounds", f"{value!r} is outside [{self.low}, {self.high}]")
        if self.step is not None:
            index = (value - self.low) / self.step
            if abs(index - round(index)) > 1e-9 * max(1.0, abs(index)):
                raise SpaceError(self.name, "step", f"{value!r} is not on the grid of step {self.step}")
            return self._at_index(round(index))
        return self._cast(float(value))

    def prior_quantiles(self) -> dict[str, Any]:
        return {f"p{int(q * 100)}": self.from_unit(q) for q in PRIOR_QUANTILES}

    def _fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"low": self.low, "high": self.high, "scale": self.scale.value}
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class FloatParam(NumericParam):
    type = "float"


@dataclass(frozen=True)
class IntParam(NumericParam):
    type = "int"

    def _cast(self, x: float) -> int:
        return int(min(max(round(x), self.low), self.high))

    def normalize(self, value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise SpaceError(self.name, "type", f"expected an integer, got {value!r}")
        return super().normalize(value)


@dataclass(frozen=True)
class CategoricalParam(Param):
    choices: tuple[Choice, ...]

    type = "categorical"

    def choice_at(self, u: float) -> int:
        """Index of the choice a unit value falls on: the k choices split [0, 1] evenly."""
        k = len(self.choices)
        return min(max(int(u * k), 0), k - 1)

    def from_unit(self, u: float) -> Any:
        return self.choices[self.choice_at(u)]

    def index(self, value: Any) -> int:
        key = choice_key(value)
        for i, choice in enumerate(self.choices):
            if choice_key(choice) == key:
                return i
        raise SpaceError(self.name, "choices", f"{value!r} is not one of the choices")

    def to_unit(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.choices)

    def normalize(self, value: Any) -> Any:
        return self.choices[self.index(value)]

    def _fields(self) -> dict[str, Any]:
        return {"choices": list(self.choices)}


def _finite(value: Any) -> bool:
    """A JSON number that fits a float (a huge integer does not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _number(param: str, spec: Mapping[str, Any], key: str) -> float:
    value = spec.get(key)
    if not _finite(value):
        raise SpaceError(param, key, f"{key} must be a finite number")
    return float(value) if isinstance(value, float) else int(value)  # type: ignore[arg-type]


def _parse_numeric(name: str, spec: Mapping[str, Any], condition: Condition | None) -> NumericParam:
    kind = spec["type"]
    low, high = _number(name, spec, "low"), _number(name, spec, "high")
    scale_name = spec.get("scale", "linear")
    try:
        scale = Scale(scale_name)
    except ValueError:
        raise SpaceError(name, "scale", f"unknown scale {scale_name!r}") from None
    step = spec.get("step")
    if kind == "int":
        if scale in (Scale.REVERSE_LOG, Scale.LOGIT):
            raise SpaceError(name, "scale", f"{scale.value} is for floats in (0, 1); ints use linear or log")
        for key, bound in (("low", low), ("high", high)):
            if not float(bound).is_integer():
                raise SpaceError(name, "integral_bounds", f"{key} of an int param must be a whole number")
        low, high = int(low), int(high)
        if step is None:
            step = 1
        # Every value handed out lies in [low, high]: so each one reaches a JSON client exactly.
        if max(abs(low), abs(high)) > MAX_EXACT_INT:
            raise SpaceError(name, "exact_int", "low and high of an int param must be within +-2**53")
    if not low < high:
        raise SpaceError(name, "low_below_high", f"low ({low}) must be below high ({high})")
    if not math.isfinite(high - low):
        raise SpaceError(name, "finite_range", "high - low must be a finite number")
    if scale is Scale.LOG and low <= 0:
        raise SpaceError(name, "log_positive", f"log scale needs low > 0, got {low}")
    if scale is Scale.REVERSE_LOG and high >= 1:
        raise SpaceError(name, "reverse_log_below_one", f"reverse_log scale needs high < 1, got {high}")
    if scale is Scale.LOGIT and not 0 < low < high < 1:
        raise SpaceError(name, "logit_inside_unit", f"logit scale needs 0 < low and high < 1, got [{low}, {high}]")
    if spec.get("step") is not None:
        step = _number(name, spec, "step")
    if step is not None:
        if step <= 0:
            raise SpaceError(name, "step_positive", f"step must be positive, got {step}")
        if kind == "int":
            if not float(step).is_integer():
                raise SpaceError(name, "integral_step", "step of an int param must be a whole number")
            step = int(step)
        intervals = (high - low) / step
        if abs(intervals - round(intervals)) > 1e-9 * max(1.0, intervals):
            raise SpaceError(name, "step_divides_range", f"step {step} does not divide high - low = {high - low}")
    cls = IntParam if kind == "int" else FloatParam
    return cls(name=name, condition=condition, low=low, high=high, scale=scale, step=step)


def _parse_categorical(
    name: str, spec: Mapping[str, Any], condition: Condition | None, max_choices: int
) -> CategoricalParam:
    choices = spec.get("choices")
    if not isinstance(choices, list) or not choices:
        raise SpaceError(name, "choices_not_empty", "choices must be a non-empty list")
    if len(choices) > max_choices:
        raise SpaceError(name, "max_choices", f"{len(choices)} choices; the limit is {max_choices}")
    seen: set[tuple[str, Any]] = set()
    for choice in choices:
        if not isinstance(choice, (str, bool)) and not _finite(choice):
            raise SpaceError(name, "choice_type", f"choice {choice!r} is not a string, finite number or boolean")
        key = choice_key(choice)
        if key in seen:
            raise SpaceError(name, "unique_choices", f"choice {choice!r} appears twice")
        seen.add(key)
    return CategoricalParam(name=name, condition=condition, choices=tuple(choices))


def parse_param(spec: Mapping[str, Any], max_choices: int = MAX_CHOICES) -> Param:
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise SpaceError(None, "name", "every param needs a name")
    condition = None
    raw_condition = spec.get("condition")
    if raw_condition is not None:
        values = raw_condition.get("in")
        if not isinstance(values, list) or not values:
            raise SpaceError(name, "condition_values", "condition.in must be a non-empty list")
        condition = Condition(parent=raw_condition.get("param"), values=tuple(values))
    kind = spec.get("type")
    if kind in ("float", "int"):
        return _parse_numeric(name, spec, condition)
    if kind == "categorical":
        return _parse_categorical(name, spec, condition, max_choices)
    raise SpaceError(name, "type", f"unknown type {kind!r}; use float, int or categorical")


class SearchSpace:
    """An ordered, validated list of params; conditional params follow their parents."""

    def __init__(self, params: Sequence[Param], max_params: int = MAX_PARAMS) -> None:
        if not params:
            raise SpaceError(None, "not_empty", "the space needs at least one param")
        if len(params) > max_params:
            raise SpaceError(None, "max_params", f"{len(params)} params; the limit is {max_params}")
        self.params: tuple[Param, ...] = tuple(params)
        self.by_name: dict[str, Param] = {}
        for param in self.params:
            if param.name in self.by_name:
                raise SpaceError(param.name, "unique_names", "the name is used twice")
            self.by_name[param.name] = param
        self._check_conditions()
        # Parents come before their children, so one pass decides every param's activity.
        self.sampling_order: tuple[int, ...] = tuple(
            sorted(range(len(self.params)), key=lambda i: self._depth(self.params[i]))
        )
        self.index: dict[str, int] = {p.name: i for i, p in enumerate(self.params)}

    @classmethod
    def from_list(
        cls, items: Iterable[Mapping[str, Any]], max_params: int = MAX_PARAMS, max_choices: int = MAX_CHOICES
    ) -> SearchSpace:
        items = list(items)
        if len(items) > max_params:
            raise SpaceError(None, "max_params", f"{len(items)} params; the limit is {max_params}")
        return cls([parse_param(item, max_choices) for item in items], max_params)

    def to_list(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.params]

    def __len__(self) -> int:
        return len(self.params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.params == other.params

    def __hash__(self) -> int:
        return hash(self.params)

    def _depth(self, param: Param) -> int:
        depth = 0
        while param.condition is not None:
            param = self.by_name[param.condition.parent]
            depth += 1
        return depth

    def _check_conditions(self) -> None:
        for param in self.params:
            condition = param.condition
            if condition is None:
                continue
            parent = self.by_name.get(condition.parent)
            if parent is None:
                raise SpaceError(param.name, "known_parent", f"condition names unknown param {condition.parent!r}")
            if not isinstance(parent, CategoricalParam):
                raise SpaceError(param.name, "categorical_parent", f"parent {parent.name!r} must be categorical")
            for value in condition.values:
                if not any(choice_key(value) == choice_key(c) for c in parent.choices):
                    raise SpaceError(
                        param.name, "condition_values", f"{value!r} is not a choice of parent {parent.name!r}"
                    )
            seen = {param.name}
            ancestor: Param | None = parent
            while ancestor is not None:
                if ancestor.name in seen:
                    raise SpaceError(param.name, "no_cycles", "conditions form a cycle")
                seen.add(ancestor.name)
                next_condition = ancestor.condition
                ancestor = self.by_name.get(next_condition.parent) if next_condition else None

    def is_active(self, param: Param, values: Mapping[str, Any]) -> bool:
        condition = param.condition
        return condition is None or (condition.parent in values and condition.holds(values[condition.parent]))

    def decode(self, unit: Sequence[float]) -> dict[str, Any]:
        """Unit-cube point -> params; inactive conditional params are left out."""
        values: dict[str, Any] = {}
        for i in self.sampling_order:
            param = self.params[i]
            if self.is_active(param, values):
                values[param.name] = param.from_unit(unit[i])
        return {p.name: values[p.name] for p in self.params if p.name in values}

    def in_region(
        self, u: Sequence[float], box: Mapping[str, Sequence[float]], keep: Mapping[str, Sequence[int]]
    ) -> list[float]:
        """A point of the unit cube mapped into a region: each box's range, each kept choice."""
        unit = []
        for i, param in enumerate(self.params):
            if isinstance(param, CategoricalParam):
                kept = keep.get(param.name, range(len(param.choices)))
                choice = kept[min(int(u[i] * len(kept)), len(kept) - 1)]
                unit.append((choice + 0.5) / len(param.choices))
            else:
                low, high = box.get(param.name, (0.0, 1.0))
                unit.append(low + float(u[i]) * (high - low))
        return unit

    def encode(self, values: Mapping[str, Any]) -> list[float | None]:
        """Params -> unit-cube point; None where a param is inactive."""
        return [p.to_unit(values[p.name]) if p.name in values else None for p in self.params]

    def normalize(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check a user-given configuration against the space and return it in stored form."""
        unknown = sorted(set(values) - set(self.by_name))
        if unknown:
            raise SpaceError(unknown[0], "known_param", "not a param of this space")
        out: dict[str, Any] = {}
        for i in self.sampling_order:
            param = self.params[i]
            active = self.is_active(param, out)
            if active and param.name not in values:
                raise SpaceError(param.name, "required", "missing: the param is active in this configuration")
            if not active and param.name in values:
                raise SpaceError(param.name, "inactive", "given, but its condition does not hold")
            if active:
                out[param.name] = param.normalize(values[param.name])
        return {p.name: out[p.name] for p in self.params if p.name in out}

    def pack(self, values: Mapping[str, Any]) -> list[Any]:
        """Params in space order, None where inactive: the compact stored form."""
        return [values.get(p.name) for p in self.params]

    def unpack(self, packed: Sequence[Any]) -> dict[str, Any]:
        return {p.name: v for p, v in zip(self.params, packed, strict=False) if v is not None}
