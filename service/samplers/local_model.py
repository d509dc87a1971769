"""A local model of the good trials near a zoomed box: where a quadratic fitted to them is lowest
inside the box.

Inside a small region a smooth objective looks like a quadratic, and a quadratic fitted to the
trials there says where it is lowest, curved valleys and correlated params included, which a box
around the best trials cannot say (it only narrows). Coarse-to-fine draws a share of a zoomed level
around that point: late in a run this is what closes in on an optimum at TPE's pace and faster,
where jittering the elite alone crept towards it.

The fit is least squares over the coordinates (scaled by the caller to [-0.5, 0.5]) and values
(standardised here): full, with a cross term per pair of params, when there are enough points, and
separable (a parabola per param) when there are not.

A fit that is a bowl (its curvature positive in every direction) gives its bottom, limited to the
box. A fit that is no bowl (a slope, a ridge, a saddle) has no bottom, yet where it explains the
values it still says which way is down: common in real tuning, where the optimum often lies on the
edge of a param's range (an l1_ratio of 1, the least regularisation) or along a curved valley. Then
the point is where a descent of the fit from the best trial ends inside the box, as a trust
region's step would be. A fit that explains the values poorly (a rugged objective, noise) is not
followed anywhere and gives no point.
"""

from __future__ import annotations

import numpy as np

SPARE = 3  # points beyond a fit's coefficients it needs: with fewer, a quadratic interpolates noise
# Least curvature a bowl needs, in standard deviations of the values over the unit-wide neighbourhood:
# below it a fit is a plane up to rounding, whose "bottom" lies anywhere far away.
MIN_CURVATURE = 1e-6
# Share of the values' variance (R squared) a fit that is no bowl must explain to be followed down
# to the box's edge; 0.5, 0.8 and 0.9 tried, 0.9 best on the rugged synthetic tasks and on the real
# ones over two seed sets (bench/results/sampler-experiments-2026-12-02.md, third section).
MIN_FIT = 0.9
DESCENT_SWEEPS = 50  # coordinate sweeps at most; a descent to the box's corner takes a few
DESCENT_TOLERANCE = 1e-9  # a sweep that moves no coordinate further than this has converged


def _terms(dimension: int, full: bool) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs of the quadratic terms: every pair i <= j, or only the squares."""
    if full:
        rows, columns = np.triu_indices(dimension)
        return rows, columns
    squares = np.arange(dimension)
    return squares, squares


def coefficients_needed(dimension: int, full: bool) -> int:
    """Coefficients of a quadratic in `dimension` params: constant, linear and quadratic terms."""
    return 1 + dimension + (dimension * (dimension + 1) // 2 if full else dimension)


def _fitted(points: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The gradient and Hessian at the origin of a quadratic fitted to the standardised values, and
    the share of their variance it explains; None when it cannot be fitted."""
    count, dimension = points.shape
    if dimension == 0 or not (np.isfinite(points).all() and np.isfinite(values).all()):
        return None
    full = count >= coefficients_needed(dimension, full=True) + SPARE
    if not full and count < coefficients_needed(dimension, full=False) + SPARE:
        return None
    spread = values.std()
    if not spread > 0:
        return None  # a flat set of values has no bottom
    scaled = (values - values.mean()) / spread
    rows, columns = _terms(dimension, full)
    design = np.hstack([np.ones((count, 1)), points, points[:, rows] * points[:, columns]])
    # Least squares on the design itself (SVD), not its normal equations: exact where the points
    # pin the quadratic down, and the smallest fit where collinear points leave it free.
    try:
        fitted = np.linalg.lstsq(design, scaled, rcond=None)[0]
    except np.linalg.LinAlgError:
        return None  # SVD did not converge: no fit, no bottom
    explained = 1.0 - float(((design @ fitted - scaled) ** 2).sum()) / count  # the scaled values' variance is 1
    hessian = np.zeros((dimension, dimension))
    hessian[rows, columns] = fitted[1 + dimension :]
    # A square's coefficient c is half its second derivative 2c: doubled here.
    return fitted[1 : 1 + dimension], hessian + hessian.T, explained


def descended(
    gradient: np.ndarray, hessian: np.ndarray, start: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Where coordinate descent of gradient.x + x.hessian.x / 2 from `start` ends inside [low, high]:
    each coordinate in turn moved to its lowest point with the others held, till none moves. For a
    Hessian that is not positive definite this is a local minimum in the box, the one below the start.

    Written out rather than taken from scipy.optimize: its bounded minimisers cost milliseconds per
    call in setup, on the ask that zooms; this costs tens of microseconds for the few params a study has.
    """
    g, h, x = gradient.tolist(), hessian.tolist(), np.clip(start, low, high).tolist()
    lows, highs = low.tolist(), high.tolist()
    for _ in range(DESCENT_SWEEPS):
        moved = 0.0
        for i, row in enumerate(h):
            slope = g[i] + sum(hij * xj for hij, xj in zip(row, x, strict=True))
            if row[i] > 0:
                new = min(max(x[i] - slope / row[i], lows[i]), highs[i])
            else:
                # Straight or curving down along this coordinate: lowest at one of its ends.
                down, up = lows[i] - x[i], highs[i] - x[i]
                new = lows[i] if down * (slope + row[i] * down / 2) <= up * (slope + row[i] * up / 2) else highs[i]
            moved = max(moved, abs(new - x[i]))
            x[i] = new
        if moved < DESCENT_TOLERANCE:
            break
    return np.array(x)


def model_minimum(
    points: np.ndarray, values: np.ndarray, start: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray | None:
    """Where a quadratic fitted to `values` (lower is better) at `points` (one row per trial) is
    lowest inside the box [low, high]: a bowl's bottom limited to the box, or, for a fit that is no
    bowl but explains the values (MIN_FIT), where its descent from `start` (the best trial) ends.
    None when there are too few points for even a separable fit or the fit cannot be followed."""
    fit = _fitted(points, values)
    if fit is None:
        return None
    gradient, hessian, explained = fit
    if np.linalg.eigvalsh(hessian).min() > MIN_CURVATURE:
        bottom: np.ndarray = np.clip(-np.linalg.solve(hessian, gradient), low, high)
        return bottom
    if explained < MIN_FIT:
        return None
    return descended(gradient, hessian, start, low, high)
