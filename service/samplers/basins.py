"""Distinct basins among a zoom's best trials: nearest-better clusters on the unit scale.

The best trials of a multimodal objective gather around several optima; one box spanning them all
spends most of its draws on the ridge between. Nearest-better clustering (Preuss) links every
trial to the nearest trial better than it: inside one basin the links are short steps downhill,
and the best trial of another basin can only link to a better one across the ridge, a long jump.
Unlike single linkage it does not let middling trials on the ridge bridge two basins. Which links
to cut is a gap test (an "inconsistent edge", after Zahn): a link much longer than the links on
both of its sides is a jump between basins, at whatever scale the zoom is.

Distances are the largest difference on any one numeric param (L-infinity): basins become boxes,
and two boxes are apart as soon as they are apart on one param. Categorical params do not count.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

GAP_RATIO = 2.0  # a link this many times the mean link on each side is a gap between basins, not a step
MIN_GAP = 0.1  # nor shorter than this share of the unit scale: five floors, so one narrow basin never splits


def distance(a: Sequence[float | None], b: Sequence[float | None]) -> float:
    """The largest difference on a coordinate both points have (0 when they share none)."""
    return max((abs(x - y) for x, y in zip(a, b, strict=True) if x is not None and y is not None), default=0.0)


def clusters(points: Sequence[Sequence[float | None]]) -> list[list[int]]:
    """The indexes of `points`, given best first, grouped into basins. Indexes stay in order inside
    a basin and basins come in order of their first index: the first holds the best, and each
    starts with its own best. O(n^2) for the bounded top-k a zoom reads."""
    links: list[tuple[float, int, int]] = []  # (length, the nearest better point, the point)
    for i in range(1, len(points)):
        nearest = min(range(i), key=lambda j: distance(points[i], points[j]))
        links.append((distance(points[i], points[nearest]), nearest, i))
    root = list(range(len(points)))
    for length, better, i in links:
        if not _gap(length, better, i, links):
            root[i] = better  # better < i: one pass, best first, leaves each point under its basin's best
    for i in range(len(points)):
        root[i] = root[root[i]]
    groups: dict[int, list[int]] = {}
    for i, first in enumerate(root):
        groups.setdefault(first, []).append(i)
    return list(groups.values())


def _gap(length: float, a: int, b: int, links: Sequence[tuple[float, int, int]]) -> bool:
    """Whether the link a-b is a gap: longer than MIN_GAP and GAP_RATIO times the mean link on
    each side of it. A side with no link, a lone trial, has no spacing to judge by: no gap (the best
    found far from the rest is news to zoom into, not a basin of one). Judged against both sides, a
    zoomed level's dense trials beside the coarse ones of earlier levels around the same optimum are
    no gap: the step between them is no longer than the coarse trials' spacing."""
    if length <= MIN_GAP:
        return False
    neighbours: dict[int, list[tuple[float, int]]] = {}
    for link_length, x, y in links:
        if {x, y} != {a, b}:
            neighbours.setdefault(x, []).append((link_length, y))
            neighbours.setdefault(y, []).append((link_length, x))
    for start in (a, b):
        # Every link on the side holding `start`: a walk over the tree without the link a-b.
        todo, seen, lengths = [start], {start}, []
        while todo:
            for link_length, other in neighbours.get(todo.pop(), ()):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
                    lengths.append(link_length)
        if not lengths or length <= GAP_RATIO * statistics.fmean(lengths):
            return False
    return True
