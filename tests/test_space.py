"""The scale bijections and the search-space rules, without Redis."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from service.domain.errors import SpaceError
from service.domain.space import CategoricalParam, NumericParam, SearchSpace, parse_param

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def float_params(draw: st.DrawFn) -> NumericParam:
    scale = draw(st.sampled_from(["linear", "log", "reverse_log", "logit"]))
    if scale == "logit":
        low = draw(st.floats(min_value=1e-9, max_value=0.9))
        high = low + (1 - low) * draw(st.floats(min_value=1e-3, max_value=1 - 1e-9))
        assume(high < 1)
    elif scale == "log":
        low = draw(st.floats(min_value=1e-12, max_value=1e6))
        high = low * draw(st.floats(min_value=1.001, max_value=1e9))
    elif scale == "reverse_log":
        high = 1 - draw(st.floats(min_value=1e-9, max_value=0.5))
        low = high - draw(st.floats(min_value=1e-6, max_value=1e3))
    else:
        low = draw(st.floats(min_value=-1e9, max_value=1e9))
        high = low + draw(st.floats(min_value=1e-6, max_value=1e9))
    assume(low < high)
    param = parse_param({"name": "x", "type": "float", "low": low, "high": high, "scale": scale})
    assert isinstance(param, NumericParam)
    return param


@st.composite
def int_params(draw: st.DrawFn) -> NumericParam:
    scale = draw(st.sampled_from(["linear", "log"]))
    low = draw(st.integers(min_value=1 if scale == "log" else -10_000, max_value=10_000))
    step = draw(st.integers(min_value=1, max_value=7))
    high = low + step * draw(st.integers(min_value=1, max_value=500))
    param = parse_param({"name": "n", "type": "int", "low": low, "high": high, "scale": scale, "step": step})
    assert isinstance(param, NumericParam)
    return param


@given(float_params(), unit)
def test_float_values_stay_in_bounds_and_round_trip(param: NumericParam, u: float) -> None:
    value = param.from_unit(u)
    assert param.low <= value <= param.high
    back = param.to_unit(value)
    assert 0.0 <= back <= 1.0
    assert math.isclose(param.from_unit(back), value, rel_tol=1e-6, abs_tol=1e-9 * (param.high - param.low))


@given(int_params(), unit)
def test_int_values_are_integers_on_the_step_grid_and_round_trip(param: NumericParam, u: float) -> None:
    value = param.from_unit(u)
    assert isinstance(value, int)
    assert param.low <= value <= param.high
    assert (value - param.low) % param.step == 0
    assert param.from_unit(param.to_unit(value)) == value


@given(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=20, unique=True), unit)
def test_categorical_round_trip(choices: list[str], u: float) -> None:
    param = parse_param({"name": "c", "type": "categorical", "choices": choices})
    assert isinstance(param, CategoricalParam)
    value = param.from_unit(u)
    assert value in choices
    assert param.from_unit(param.to_unit(value)) == value


def _quantile_fractions(values: np.ndarray, edges: list[float]) -> np.ndarray:
    counts, _ = np.histogram(values, bins=edges)
    return counts / len(values)


def test_log_scale_puts_equal_mass_on_each_decade() -> None:
    param = parse_param({"name": "lr", "type": "float", "low": 1e-4, "high": 1, "scale": "log"})
    values = np.array([param.from_unit(u) for u in np.random.default_rng(1).random(40_000)])
    fractions = _quantile_fractions(values, [1e-4, 1e-3, 1e-2, 1e-1, 1])
    assert np.allclose(fractions, 0.25, atol=0.01)


def test_reverse_log_scale_samples_one_minus_beta_log_uniformly() -> None:
    # The notes' example: beta in [0.9, 0.999] means 1 - beta in [0.001, 0.1], one decade each half.
    param = parse_param({"name": "beta", "type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"})
    values = np.array([param.from_unit(u) for u in np.random.default_rng(2).random(40_000)])
    assert np.allclose(_quantile_fractions(values, [0.9, 0.99, 0.999]), 0.5, atol=0.01)
    assert param.from_unit(0.0) == pytest.approx(0.9)
    assert param.from_unit(1.0) == pytest.approx(0.999)
    assert param.from_unit(0.5) == pytest.approx(0.99)


def test_logit_scale_samples_log_odds_uniformly_and_crowds_both_ends() -> None:
    # [0.01, 0.99]: log-odds from -4.6 to 4.6, so 0.1 and 0.9 sit near the quartiles of log-odds.
    param = parse_param({"name": "dropout", "type": "float", "low": 0.01, "high": 0.99, "scale": "logit"})
    values = np.array([param.from_unit(u) for u in np.random.default_rng(4).random(40_000)])
    edges = [1 / (1 + math.exp(-t)) for t in np.linspace(math.log(1 / 99), math.log(99), 5)]
    assert np.allclose(_quantile_fractions(values, edges), 0.25, atol=0.01)
    assert param.from_unit(0.5) == pytest.approx(0.5)
    assert param.from_unit(0.0) == pytest.approx(0.01)
    assert param.from_unit(1.0) == pytest.approx(0.99)
    assert param.grid(3) == [0.01, 0.5, 0.99]
    assert param.prior_quantiles()["p50"] == pytest.approx(0.5)
    assert param.prior_quantiles()["p10"] < 0.05 and param.prior_quantiles()["p90"] > 0.95


def test_stepped_log_int_gives_end_points_a_full_bucket() -> None:
    param = parse_param({"name": "units", "type": "int", "low": 1, "high": 4, "scale": "log"})
    values = [param.from_unit(u) for u in np.random.default_rng(3).random(20_000)]
    assert values.count(1) / len(values) > 0.15


def test_float_step_snaps_to_clean_values() -> None:
    param = parse_param({"name": "d", "type": "float", "low": 0.0, "high": 0.5, "step": 0.1})
    assert {param.from_unit(u) for u in np.linspace(0, 1, 101)} == {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ({"type": "float", "low": 1, "high": 1}, "low_below_high"),
        ({"type": "float", "low": 0, "high": 1, "scale": "log"}, "log_positive"),
        ({"type": "float", "low": 0.9, "high": 1.0, "scale": "reverse_log"}, "reverse_log_below_one"),
        ({"type": "int", "low": 0.5, "high": 3}, "integral_bounds"),
        ({"type": "float", "low": 0, "high": 1, "step": 0.3}, "step_divides_range"),
        ({"type": "int", "low": 1, "high": 10, "scale": "reverse_log"}, "scale"),
        ({"type": "float", "low": 0.0, "high": 0.5, "scale": "logit"}, "logit_inside_unit"),
        ({"type": "float", "low": 0.5, "high": 1.0, "scale": "logit"}, "logit_inside_unit"),
        ({"type": "int", "low": 1, "high": 10, "scale": "logit"}, "scale"),
        ({"type": "categorical", "choices": []}, "choices_not_empty"),
        ({"type": "categorical", "choices": ["a", "a"]}, "unique_choices"),
        ({"type": "categorical", "choices": [1, 1.0]}, "unique_choices"),
        ({"type": "float", "low": -1e308, "high": 1e308}, "finite_range"),
    ],
)
def test_param_rules_name_the_param_and_the_rule(spec: dict, rule: str) -> None:
    with pytest.raises(SpaceError) as caught:
        parse_param({"name": "p", **spec})
    assert caught.value.param == "p"
    assert caught.value.rule == rule


def test_true_and_one_are_different_choices() -> None:
    param = parse_param({"name": "c", "type": "categorical", "choices": [True, 1, "1"]})
    assert isinstance(param, CategoricalParam)
    assert [param.index(v) for v in (True, 1, "1", 1.0)] == [0, 1, 2, 1]


OPTIMIZER_SPACE = [
    {"name": "optimizer", "type": "categorical", "choices": ["sgd", "adam"]},
    {"name": "momentum", "type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log",
     "condition": {"param": "optimizer", "in": ["sgd"]}},
    {"name": "beta1", "type": "float", "low": 0.8, "high": 0.99, "condition": {"param": "optimizer", "in": ["adam"]}},
    {"name": "amsgrad", "type": "categorical", "choices": [True, False],
     "condition": {"param": "optimizer", "in": ["adam"]}},
    {"name": "amsgrad_eps", "type": "float", "low": 1e-9, "high": 1e-6, "scale": "log",
     "condition": {"param": "amsgrad", "in": [True]}},
]  # fmt: skip


def test_conditional_params_follow_their_parents_through_chains() -> None:
    space = SearchSpace.from_list(OPTIMIZER_SPACE)
    for u in np.random.default_rng(4).random((200, len(space))):
        params = space.decode(u.tolist())
        if params["optimizer"] == "sgd":
            assert set(params) == {"optimizer", "momentum"}
        else:
            assert {"beta1", "amsgrad"} <= set(params)
            assert ("amsgrad_eps" in params) == params["amsgrad"]


@pytest.mark.parametrize(
    ("space", "rule"),
    [
        (
            [{"name": "a", "type": "float", "low": 0, "high": 1, "condition": {"param": "b", "in": ["x"]}}],
            "known_parent",
        ),
        (
            [
                {"name": "a", "type": "categorical", "choices": ["x"], "condition": {"param": "b", "in": ["x"]}},
                {"name": "b", "type": "categorical", "choices": ["x"], "condition": {"param": "a", "in": ["x"]}},
            ],
            "no_cycles",
        ),
        (
            [{"name": "a", "type": "categorical", "choices": ["x"], "condition": {"param": "a", "in": ["x"]}}],
            "no_cycles",
        ),
        (
            [
                {"name": "a", "type": "float", "low": 0, "high": 1},
                {"name": "b", "type": "float", "low": 0, "high": 1, "condition": {"param": "a", "in": [0.5]}},
            ],
            "categorical_parent",
        ),
        (
            [
                {"name": "a", "type": "categorical", "choices": ["x"]},
                {"name": "b", "type": "float", "low": 0, "high": 1, "condition": {"param": "a", "in": ["y"]}},
            ],
            "condition_values",
        ),
        ([{"name": "a", "type": "float", "low": 0, "high": 1}] * 2, "unique_names"),
        ([{"name": f"p{i}", "type": "float", "low": 0, "high": 1} for i in range(101)], "max_params"),
    ],
)
def test_space_rules(space: list[dict], rule: str) -> None:
    with pytest.raises(SpaceError) as caught:
        SearchSpace.from_list(space)
    assert caught.value.rule == rule


def test_normalize_checks_a_configuration_against_the_space() -> None:
    space = SearchSpace.from_list(OPTIMIZER_SPACE)
    assert space.normalize({"optimizer": "sgd", "momentum": 0.95}) == {"optimizer": "sgd", "momentum": 0.95}
    for bad, rule in [
        ({"optimizer": "sgd"}, "required"),
        ({"optimizer": "sgd", "momentum": 0.95, "beta1": 0.9}, "inactive"),
        ({"optimizer": "sgd", "momentum": 2.0}, "bounds"),
        ({"optimizer": "rmsprop"}, "choices"),
        ({"optimizer": "sgd", "momentum": 0.95, "nope": 1}, "known_param"),
    ]:
        with pytest.raises(SpaceError) as caught:
            space.normalize(bad)
        assert caught.value.rule == rule


@given(st.lists(unit, min_size=5, max_size=5))
def test_encode_decode_round_trip(u: list[float]) -> None:
    space = SearchSpace.from_list(OPTIMIZER_SPACE)
    params = space.decode(u)
    encoded = space.encode(params)
    assert space.decode([0.5 if x is None else x for x in encoded]) == pytest.approx(params)
