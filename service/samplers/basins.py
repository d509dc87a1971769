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

from collections.abc import Sequence

import numpy as np

GAP_RATIO = 2.0  # a link this many times the mean link on each side is a gap between basins, not a step
MIN_GAP = 0.1  # nor shorter than this share of the unit scale: five floors, so one narrow basin never splits
TIE = 1e-9  # a link at GAP_RATIO times the mean, to within rounding of the sums, is no gap


def distances(points: Sequence[Sequence[float | None]]) -> np.ndarray:
    """The matrix of distances between points: the largest difference on a coordinate both
    points have (0 when they share none)."""
    unit = np.array([[np.nan if x is None else x for x in point] for point in points], dtype=float)
    gaps = np.abs(unit[:, None, :] - unit[None, :, :])  # NaN where either point lacks the coordinate
    largest: np.ndarray = np.nan_to_num(gaps, nan=0.0).max(axis=2, initial=0.0)
    return largest


def clusters(points: Sequence[Sequence[float | None]]) -> list[list[int]]:
    """The indexes of `points`, given best first, grouped into basins. Indexes stay in order inside
    a basin and basins come in order of their first index: the first holds the best, and each
    starts with its own best. O(n^2) array work for the bounded top-k a zoom reads: it runs at
    every zoom, on the ask that zooms."""
    n = len(points)
    if n < 2:
        return [[0]] if n else []
    between = distances(points)
    # Each point's link to its nearest better point (the first such on a tie): a tree rooted at
    # the best, every link pointing to a smaller index.
    better = np.where(np.tri(n, k=-1, dtype=bool), between, np.inf)
    better[0, 0] = 0.0
    closest = better.argmin(axis=1)
    nearest: list[int] = closest.tolist()
    length: list[float] = better[np.arange(n), closest].tolist()
    # Removing point i's link splits the tree into i's subtree and the rest: the links below i
    # are one side, every other link the other. Their sums and counts, children before parents.
    below_sum, below_count = [0.0] * n, [0] * n
    for i in range(n - 1, 0, -1):
        below_sum[nearest[i]] += below_sum[i] + length[i]
        below_count[nearest[i]] += below_count[i] + 1
    total = below_sum[0]
    root = list(range(n))
    for i in range(1, n):
        rest_count = n - 2 - below_count[i]
        rest_sum = total - length[i] - below_sum[i]
        if not _gap(length[i], (below_sum[i], below_count[i]), (rest_sum, rest_count)):
            root[i] = root[nearest[i]]  # nearest[i] < i: already under its basin's best
    groups: dict[int, list[int]] = {}
    for i, first in enumerate(root):
        groups.setdefault(first, []).append(i)
    return list(groups.values())


def _gap(length: float, *sides: tuple[float, int]) -> bool:
    """Whether a link of this length is a gap: longer than MIN_GAP and GAP_RATIO times the mean
    link on each side of it (each side's link lengths summed, and counted). A side with no link, a
    lone trial, has no spacing to judge by: no gap (the best found far from the rest is news to
    zoom into, not a basin of one). Judged against both sides, a zoomed level's dense trials beside
    the coarse ones of earlier levels around the same optimum are no gap: the step between them is
    no longer than the coarse trials' spacing."""
    # The sides' sums come from subtractions (total minus the rest), so an exact tie can round
    # either way: the tolerance makes a tie no gap however the sum was formed.
    return length > MIN_GAP and all(
        count and length > GAP_RATIO * summed / count * (1 + TIE) for summed, count in sides
    )
