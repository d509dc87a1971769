"""The local model's maths: the bottom of a quadratic fitted to points, or none when no bowl fits."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.space import SearchSpace
from service.domain.study import Direction, StudySpec
from service.samplers import LevelProgress, SamplerState, Scored, make_sampler, normalize_sampler
from service.samplers.base import RegionEdit
from service.samplers.local_model import SPARE, bowl_bottom, coefficients_needed

SPACE = SearchSpace.from_list(
    [{"name": "x", "type": "float", "low": 0, "high": 1}, {"name": "y", "type": "float", "low": 0, "high": 1}]
)


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
    found = bowl_bottom(points, quadratic(points, bottom, hessian))
    assert found is not None
    np.testing.assert_allclose(found, bottom, atol=1e-6)


def test_with_too_few_points_for_cross_terms_the_fit_is_separable() -> None:
    rng = np.random.default_rng(1)
    dimension = 5
    count = coefficients_needed(dimension, full=False) + SPARE
    assert count < coefficients_needed(dimension, full=True) + SPARE
    points = rng.uniform(-0.5, 0.5, (count, dimension))
    bottom = np.array([0.1, -0.2, 0.3, 0.0, -0.4])
    found = bowl_bottom(points, quadratic(points, bottom, np.diag([1.0, 2.0, 3.0, 1.0, 2.0])))
    assert found is not None
    np.testing.assert_allclose(found, bottom, atol=1e-6)
    # One point fewer and not even a parabola per param fits.
    assert bowl_bottom(points[1:], quadratic(points[1:], bottom, np.eye(dimension))) is None


@given(seed=st.integers(0, 2**32 - 1), dimension=st.integers(1, 4))
def test_a_ridge_a_saddle_or_a_plane_has_no_bottom(seed: int, dimension: int) -> None:
    rng = np.random.default_rng(seed)
    points = rng.uniform(-0.5, 0.5, (coefficients_needed(dimension, full=True) + SPARE, dimension))
    curvature = rng.uniform(0.5, 4.0, dimension)
    curvature[rng.integers(dimension)] *= -1  # one direction curves down: a saddle, or a ridge in 1-d
    assert bowl_bottom(points, quadratic(points, np.zeros(dimension), np.diag(curvature))) is None
    assert bowl_bottom(points, points @ rng.normal(size=dimension) + 1.0) is None  # a plane


def test_equal_values_have_no_bottom() -> None:
    points = np.random.default_rng(2).uniform(-0.5, 0.5, (20, 2))
    assert bowl_bottom(points, np.full(20, 0.25)) is None


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
    assert bowl_bottom(points, values) is not None
    assert bowl_bottom(np.where(points > 0.4, np.nan, points), values) is None
    assert bowl_bottom(points, np.where(values > 0.3, np.inf, values)) is None
    assert bowl_bottom(points[:, :0], values) is None
