"""Grid search: every combination of a few values per param, each handed out exactly once.

Conditional params enter the grid only under the parent choices that activate them, so the grid
is a union over branches and never holds two equal configurations. An index in [0, size) decodes
to a point by mixed radix, without building the product; ask.lua's atomic cursor claims indices,
so concurrent workers never share a point. `shuffle` visits the indices in a seeded order.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from ..domain.errors import SpaceError
from ..domain.space import CategoricalParam, NumericParam, Param, SearchSpace
from ..domain.study import Direction
from .base import Draw, Sampler, SamplerState

DEFAULT_POINTS = 5  # five values per numeric param: 1e-5, 1e-4, ... on a log scale over [1e-5, 1e-1]
MAX_SIZE = 2**50  # ask.lua counts draws in Lua numbers (doubles): exact far beyond any real grid
FEISTEL_ROUNDS = 4


class GridOptions(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    n = fields.Integer(
        load_default=DEFAULT_POINTS,
        strict=True,
        validate=validate.Range(min=1, max=1000),
        metadata={"description": "Points per numeric param, spaced on its own scale, ends included."},
    )
    values = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Raw(), validate=validate.Length(min=1, max=1000)),
        load_default=dict,
        metadata={"description": "Explicit values for some params, by name; they replace n points."},
    )
    shuffle = fields.Boolean(
        load_default=False,
        truthy={True},
        falsy={False},
        metadata={"description": "Visit points in a seeded random order."},
    )


@dataclass(frozen=True)
class _Node:
    """One param's share of the grid: its values and, per value, the params it activates."""

    param: Param
    values: tuple[Any, ...]
    children: tuple[tuple[_Node, ...], ...]  # per value: the params active under it
    sizes: tuple[int, ...]  # per value: how many points its children span
    offsets: tuple[int, ...]  # per value: the first index of its block
    size: int


def _product(nodes: tuple[_Node, ...]) -> int:
    size = 1
    for node in nodes:
        size *= node.size
    return size


class GridSampler(Sampler):
    name = "grid"
    options_schema = GridOptions
    retries_failed = True

    def __init__(self, space: SearchSpace, options: Mapping[str, Any], seed: int, direction: Direction) -> None:
        super().__init__(space, options, seed, direction)
        unknown = sorted(set(options["values"]) - set(space.by_name))
        if unknown:
            raise SpaceError(unknown[0], "grid_values", "grid values name a param that is not in the space")
        self.roots = self._nodes(None, None)
        self._size = _product(self.roots)
        if self._size > MAX_SIZE:
            raise SpaceError(None, "grid_size", f"the grid has {self._size} points; the limit is {MAX_SIZE}")
        self._permutation = _Permutation(self._size, seed) if options["shuffle"] else None

    def _values(self, param: Param) -> tuple[Any, ...]:
        given = self.options["values"].get(param.name)
        if given is None:
            if isinstance(param, NumericParam):
                return tuple(param.grid(self.options["n"]))
            assert isinstance(param, CategoricalParam)
            return param.choices
        values: list[Any] = []
        for value in given:
            normal = param.normalize(value)
            if normal not in values:
                values.append(normal)
        return tuple(values)

    def _nodes(self, parent: CategoricalParam | None, choice: Any) -> tuple[_Node, ...]:
        """The params active directly under `parent` taking `choice` (the unconditional ones for None)."""
        nodes = []
        for param in self.space.params:
            condition = param.condition
            if parent is None and condition is not None:
                continue
            if parent is not None and (
                condition is None or condition.parent != parent.name or not condition.holds(choice)
            ):
                continue
            values = self._values(param)
            if isinstance(param, CategoricalParam):
                children = tuple(self._nodes(param, value) for value in values)
            else:
                children = tuple(() for _ in values)
            sizes = tuple(_product(c) for c in children)
            offsets, total = [], 0
            for size in sizes:
                offsets.append(total)
                total += size
            nodes.append(_Node(param, values, children, sizes, tuple(offsets), total))
        return tuple(nodes)

    def size(self) -> int:
        return self._size

    def point(self, index: int) -> dict[str, Any]:
        """The grid point at a position of the (unshuffled) mixed-radix order."""
        values: dict[str, Any] = {}
        self._decode(self.roots, index, values)
        return {p.name: values[p.name] for p in self.space.params if p.name in values}

    def _decode(self, nodes: tuple[_Node, ...], index: int, out: dict[str, Any]) -> None:
        for node in nodes:
            index, digit = divmod(index, node.size)
            k = bisect.bisect_right(node.offsets, digit) - 1  # the value whose block holds the digit
            out[node.param.name] = node.values[k]
            self._decode(node.children[k], digit - node.offsets[k], out)

    def suggest(self, draw: Draw, state: SamplerState) -> dict[str, Any]:
        index = draw.index if self._permutation is None else self._permutation(draw.index)
        return self.point(index)


class _Permutation:
    """A seeded bijection of [0, n): a Feistel network on enough bits, cycle-walked into range."""

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.half = max(1, (max(n - 1, 1).bit_length() + 1) // 2)
        self.mask = (1 << self.half) - 1
        self.keys = [hashlib.blake2b(f"{seed}:{r}".encode(), digest_size=8).digest() for r in range(FEISTEL_ROUNDS)]

    def _round(self, key: bytes, value: int) -> int:
        digest = hashlib.blake2b(value.to_bytes(8, "big"), key=key, digest_size=8).digest()
        return int.from_bytes(digest, "big") & self.mask

    def _encrypt(self, x: int) -> int:
        left, right = x >> self.half, x & self.mask
        for key in self.keys:
            left, right = right, left ^ self._round(key, right)
        return (left << self.half) | right

    def __call__(self, index: int) -> int:
        # The network permutes [0, 4**half) and 4**half < 4n, so a few steps land back in range.
        x = self._encrypt(index)
        while x >= self.n:
            x = self._encrypt(x)
        return x
