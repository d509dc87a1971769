"""Search-space builders. They only spell the wire format; the server checks every rule and answers
422 `invalid_space` naming the param, so the rules live in one place.

    space = [
        hone.Float("lr", 1e-4, 1, scale="log"),
        hone.Float("beta", 0.9, 0.999, scale="reverse_log"),
        hone.Int("layers", 1, 4),
        hone.Categorical("optimizer", ["sgd", "adam"]),
        hone.Float("momentum", 0.5, 0.99, condition=("optimizer", ["sgd"])),
    ]
"""

from __future__ import annotations

import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import yaml

__all__ = ["Categorical", "Float", "Int", "Param", "SpaceLike", "load_space", "space_to_list"]

# `condition=("optimizer", ["sgd"])`: present only when the categorical `optimizer` is one of these.
Condition = tuple[str, Sequence[Any]]


@dataclass(frozen=True)
class Param(ABC):
    """Base of the builders; `to_dict()` gives the param as the API takes it."""

    name: str

    @abstractmethod
    def to_dict(self) -> dict[str, Any]: ...


def _with_condition(body: dict[str, Any], condition: Condition | None) -> dict[str, Any]:
    if condition is not None:
        parent, values = condition
        listed = list(values) if isinstance(values, (list, tuple, set, frozenset)) else [values]
        body["condition"] = {"param": parent, "in": listed}
    return body


def _numeric(kind: str, param: Float | Int) -> dict[str, Any]:
    body: dict[str, Any] = {"name": param.name, "type": kind, "low": param.low, "high": param.high}
    body["scale"] = param.scale
    if param.step is not None:
        body["step"] = param.step
    return _with_condition(body, param.condition)


@dataclass(frozen=True)
class Float(Param):
    """A real number in [low, high]; `log` is uniform in log space, `reverse_log` in log(1 - x),
    `logit` in log(x / (1 - x))."""

    low: float
    high: float
    scale: Literal["linear", "log", "reverse_log", "logit"] = "linear"
    step: float | None = None
    condition: Condition | None = None

    def to_dict(self) -> dict[str, Any]:
        return _numeric("float", self)


@dataclass(frozen=True)
class Int(Param):
    """A whole number in [low, high], on a linear or log scale."""

    low: int
    high: int
    scale: Literal["linear", "log"] = "linear"
    step: int | None = None
    condition: Condition | None = None

    def to_dict(self) -> dict[str, Any]:
        return _numeric("int", self)


@dataclass(frozen=True)
class Categorical(Param):
    """One of `choices`: strings, numbers or booleans."""

    choices: Sequence[Any]
    condition: Condition | None = None

    def to_dict(self) -> dict[str, Any]:
        body = {"name": self.name, "type": "categorical", "choices": list(self.choices)}
        return _with_condition(body, self.condition)


# A list of builders or API dicts, a mapping {name: param dict}, or a path to a JSON or YAML file of either.
SpaceLike = Union[Sequence[Union[Param, Mapping[str, Any]]], Mapping[str, Mapping[str, Any]], str, os.PathLike[str]]


class _Loader(yaml.SafeLoader):
    """YAML as people write it: PyYAML reads `1e-4` (no dot) as a string, which no space wants."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)|\.[0-9_]+(?:[eE][-+]?[0-9]+)?)$"),
    list("-+0123456789."),
)


def read_document(path: str | os.PathLike[str]) -> Any:
    """A .json file as JSON, anything else as YAML; ValueError if it is neither."""
    text = Path(path).read_text()
    if str(path).endswith(".json"):
        return json.loads(text)
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from exc


def load_space(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """A space from a .json, .yaml or .yml file holding a list of params or a mapping by name.

    Raises OSError if the file cannot be read, ValueError if it is not JSON or YAML.
    """
    return space_to_list(read_document(path))


def space_to_list(space: SpaceLike) -> list[dict[str, Any]]:
    """Any accepted form of a space as the API's list of param dicts."""
    if isinstance(space, (str, os.PathLike)):
        return load_space(space)
    if isinstance(space, Mapping):
        return [{"name": name, **dict(param)} for name, param in space.items()]
    if isinstance(space, Sequence):
        return [_param_dict(param) for param in space]
    raise TypeError(f"a space is a list of params, a mapping by name or a file path, not {type(space).__name__}")


def _param_dict(param: object) -> dict[str, Any]:
    if isinstance(param, Param):
        return param.to_dict()
    if isinstance(param, Mapping):
        return dict(param)
    raise TypeError(f"a param is a hone.Float, Int, Categorical or a dict, not {type(param).__name__}")
