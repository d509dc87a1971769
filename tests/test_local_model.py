"""The local model's maths: where a quadratic fitted to points is lowest in a box (a bowl's bottom,
or the end of a descent for a fit that is no bowl but explains the values), or none."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.space import SearchSpace
from service.domain.study import Direction, StudySpec
from service.samplers import LevelProgress, SamplerState, Scored, make_sampler, normalize_sampler
from service.samplers.base import RegionEdit
from service.samplers.local_model import SPARE, coefficients_needed, descended, model_minimum

SPACE = SearchSpace.from_list(
    [{"name": "x", "type": "float", "low": 0, "high": 1}, {"name": "y", "type": "float", "low": 0, "high": 1}]
)


WIDE = (np.full(6, -1.0), np.full(6, 1.0))  # a box wider than the points: a bowl's bottom inside it


def lowest(points: np.ndarray, values: np.ndarray, start: np.ndarray | None = None) -> np.ndarray | None:
    """The model's lowest point in the wide box, descending from the points' centre by default."""
    dimension = points.shape[1]
    low, high = WIDE[0][:dimension], WIDE[1][:dimension]
    return model_minimum(points, values, np.zeros(dimension) if start is None else start, low, high)


def quadratic(points: np.ndarray, bottom: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    offsets = points - bottom
    return 0.5 * np.einsum("ni,ij,nj->n", offsets, hessian, offsets) + 3.0


def bowl(rng: np.random.Generator, dimension: int, full: bool) -> np.ndarray:
    """A positive-definite Hessian, well conditioned, with cross terms when `full`."""
    if not full:
        return np.diag(rng.uniform(0.5, 4.0, dimension))
    rotation, _ = np.linalg.qr(rng.normal(size=(dimension, dimension)))
    return rotation @ np.diag(rng.uniform(0.5, 4.0, dimension)) @ rotation.T


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dimension=st.integers(1, 6), full=st.booleans())
def test_an_exact_quadratic_gives_back_its_bottom(seed: int, dimension: int, full: bool) -> None:
    rng = np.random.default_rng(seed)
    hessian = bowl(rng, dimension, full)
    bottom = rng.uniform(-0.7, 0.7, dimension)  # may lie outside the points' range
    count = coefficients_needed(dimension, full) + SPARE
    points = rng.uniform(-0.5, 0.5, (count, dimension))
    found = lowest(points, quadratic(points, bottom, hessian))
    assert found is not None
    np.testing.assert_allclose(found, bottom, atol=1e-6)


def test_with_too_few_points_for_cross_terms_the_fit_is_separable() -> None:
    rng = np.random.default_rng(1)
    dimension = 5
    count = coefficients_needed(dimension, full=False) + SPARE
    assert count < coefficients_needed(dimension, full=True) + SPARE
    points = rng.uniform(-0.5, 0.5, (count, dimension))
    bottom = np.array([0.1, -0.2, 0.3, 0.0, -0.4])
    found = lowest(points, quadratic(points, bottom, np.diag([1.0, 2.0, 3.0, 1.0, 2.0])))
    assert found is not None
    np.testing.assert_allclose(found, bottom, atol=1e-6)
    # One point fewer and not even a parabola per param fits.
    assert lowest(points[1:], quadratic(points[1:], bottom, np.eye(dimension))) is None


def test_a_bowl_whose_bottom_lies_outside_the_box_gives_the_nearest_point_of_the_box() -> None:
    rng = np.random.default_rng(4)
    points = rng.uniform(-0.5, 0.5, (30, 2))
    found = model_minimum(
        points, quadratic(points, np.array([0.4, 0.0]), np.eye(2)), np.zeros(2), np.full(2, -0.1), np.full(2, 0.1)
    )
    assert found is not None
    np.testing.assert_allclose(found, [0.1, 0.0], atol=1e-9)


@given(seed=st.integers(0, 2**32 - 1), dimension=st.integers(1, 4))
def test_a_ridge_a_saddle_or_a_slope_that_fits_is_followed_down_to_the_box(seed: int, dimension: int) -> None:
    """No bowl, but an exact fit: the point is where the fit descends to from the start, on an edge."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-0.5, 0.5, (coefficients_needed(dimension, full=True) + SPARE, dimension))
    curvature = rng.uniform(0.5, 4.0, dimension)
    curvature[rng.integers(dimension)] *= -1  # one direction curves down: a saddle, or a ridge in 1-d
    slope = rng.normal(size=dimension)
    start = rng.uniform(-0.5, 0.5, dimension)
    for values in (quadratic(points, np.zeros(dimension), np.diag(curvature)), points @ slope + 1.0):
        found = lowest(points, values, start)
        assert found is not None
        assert np.isclose(np.abs(found), 1.0).any()  # pressed against the box
    # The slope's lowest point in the box is its downhill corner, wherever the descent began.
    found = lowest(points, points @ slope + 1.0, start)
    np.testing.assert_allclose(found, -np.sign(slope), atol=1e-9)


def test_a_rugged_objective_that_no_quadratic_explains_is_not_followed() -> None:
    rng = np.random.default_rng(5)
    points = rng.uniform(-0.5, 0.5, (40, 2))
    ridge = -4 * points[:, 0] ** 2 + 0.5 * points[:, 1]  # no bowl: a fit of it is only followed down
    rugged = ridge + np.sin(40 * points[:, 0]) * np.cos(40 * points[:, 1])
    assert lowest(points, rugged) is None
    assert lowest(points, ridge) is not None  # the ridge alone is


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dimension=st.integers(1, 6))
def test_a_descent_ends_in_the_box_at_a_local_minimum_no_higher_than_its_start(seed: int, dimension: int) -> None:
    rng = np.random.default_rng(seed)
    half = rng.normal(size=(dimension, dimension))
    hessian = half + half.T  # any symmetric Hessian: a bowl, a saddle, a dome
    gradient = rng.normal(size=dimension)
    low = rng.uniform(-1.0, 0.0, dimension)
    high = low + rng.uniform(0.01, 1.0, dimension)
    start = rng.uniform(-1.5, 1.5, dimension)  # clipped into the box first

    def value(x: np.ndarray) -> float:
        return float(gradient @ x + x @ hessian @ x / 2)

    found = descended(gradient, hessian, start, low, high)
    assert ((low <= found) & (found <= high)).all()
    assert value(found) <= value(np.clip(start, low, high)) + 1e-12
    # No coordinate alone can go lower: the slope points out of the box at an end, and is ~0 inside.
    slope = gradient + hessian @ found
    scale = 1 + np.abs(hessian).sum(axis=1)
    for i in range(dimension):
        at_low, at_high = np.isclose(found[i], low[i]), np.isclose(found[i], high[i])
        if not (at_low or at_high):
            assert abs(slope[i]) <= 1e-6 * scale[i]
        elif at_low and not at_high:
            assert slope[i] >= -1e-6 * scale[i]
        elif at_high and not at_low:
            assert slope[i] <= 1e-6 * scale[i]


def test_equal_values_have_no_bottom() -> None:
    points = np.random.default_rng(2).uniform(-0.5, 0.5, (20, 2))
    assert lowest(points, np.full(20, 0.25)) is None


def zoomed_on_a_bowl(options: dict[str, Any]) -> tuple[Any, SamplerState, list[Scored]]:
    """A coarse-to-fine sampler and its level 1 state, with 40 trials of a bowl around (0.3, 0.6)."""
    spec = StudySpec(direction=Direction.MINIMIZE, space=SPACE, sampler=options)
    sampler = make_sampler(spec, 0)
    rng = np.random.default_rng(0)
    units = rng.uniform(0, 1, (40, 2))
    trials = sorted(
        (Scored(list(u), float((u[0] - 0.3) ** 2 + 2 * (u[1] - 0.6) ** 2)) for u in units), key=lambda s: s.value
    )
    state = SamplerState(level=1, version=1, level_start=16, data=sampler.initial_state() | {"box": {}})
    return sampler, state, trials


def test_a_zoom_keeps_the_bottom_of_the_bowl_and_a_study_stored_before_the_model_does_not() -> None:
    options = normalize_sampler({"name": "coarse_to_fine"})
    sampler, state, trials = zoomed_on_a_bowl(options)
    zoom = sampler.advance(state, LevelProgress(16, 16), lambda k, _: trials[:k])
    assert zoom is not None
    np.testing.assert_allclose(zoom.data["model"], [0.3, 0.6], atol=1e-6)
    old, state, trials = zoomed_on_a_bowl({key: value for key, value in options.items() if key != "model_share"})
    old_zoom = old.advance(state, LevelProgress(16, 16), lambda k, _: trials[:k])
    assert old_zoom is not None and "model" not in old_zoom.data
    # A hand edit makes a new level whose region the bottom was not fitted to.
    edited = sampler.edit(SamplerState(2, 2, 26, zoom.data), 10, RegionEdit("x", low=0.0, high=0.2))
    assert "model" not in edited


def test_what_cannot_be_fitted_has_no_bottom() -> None:
    points = np.random.default_rng(3).uniform(-0.5, 0.5, (20, 2))
    values = points[:, 0] ** 2 + points[:, 1] ** 2
    assert lowest(points, values) is not None
    assert lowest(np.where(points > 0.4, np.nan, points), values) is None
    assert lowest(points, np.where(values > 0.3, np.inf, values)) is None
    assert lowest(points[:, :0], values) is None
