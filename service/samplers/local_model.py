"""A local model of the good trials near a zoomed box: the bottom of a quadratic bowl fitted to them.

Inside a small region a smooth objective looks like a quadratic, and a quadratic fitted to the
trials there says where its minimum lies, curved valleys and correlated params included, which a
box around the best trials cannot say (it only narrows). Coarse-to-fine draws a share of a zoomed
level around that bottom: late in a run this is what closes in on an optimum at TPE's pace and
faster, where jittering the elite alone crept towards it.

The fit is least squares over the coordinates (scaled by the caller to [-0.5, 0.5]) and values
(standardised here): full, with a cross term per pair of params, when there are enough points, and
separable (a parabola per param) when there are not. A fit that is no bowl (its curvature not
positive in every direction: a ridge, a saddle, a plane) says nothing about a minimum and gives
none.
"""

from __future__ import annotations

import numpy as np

SPARE = 3  # points beyond a fit's coefficients it needs: with fewer, a quadratic interpolates noise
# Least curvature a bowl needs, in standard deviations of the values over the unit-wide neighbourhood:
# below it a fit is a plane up to rounding, whose "bottom" lies anywhere far away.
MIN_CURVATURE = 1e-6


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


def bowl_bottom(points: np.ndarray, values: np.ndarray) -> np.ndarray | None:
    """The minimiser of a quadratic fitted to `values` (lower is better) at `points` (one row per
    trial), or None when there are too few points for even a separable fit or the fit is no bowl.
    The minimiser may lie outside the points' range: the caller limits it."""
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
    gradient = fitted[1 : 1 + dimension]
    hessian = np.zeros((dimension, dimension))
    hessian[rows, columns] = fitted[1 + dimension :]
    hessian = hessian + hessian.T  # a square's coefficient c is half its second derivative 2c: doubled here
    if np.linalg.eigvalsh(hessian).min() <= MIN_CURVATURE:
        return None
    bottom: np.ndarray = -np.linalg.solve(hessian, gradient)
    return bottom
