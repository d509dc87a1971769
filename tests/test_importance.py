"""The importance encoding and ranking, without Redis: each param one column in its unit coordinate,
NaN exactly where it is inactive; and a forest that ranks the deciding param first on any seed."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.space import SearchSpace
from service.domain.trial import Trial, TrialState
from service.usecases.importance import features, rank_params

from .test_importance_api import SPACE

space = SearchSpace.from_list(SPACE)
unit = st.floats(min_value=0, max_value=1)


def trial(number: int, params: dict[str, object], value: float = 0.0) -> Trial:
    return Trial(number, "0", params, TrialState.COMPLETE, value, None, 0.0, 0.0, "test", 0)  # of incarnation "0"


def draw(units: list[float]) -> dict[str, object]:
    """A configuration of SPACE from unit coordinates, with momentum only when optimizer is sgd."""
    params = {p.name: p.from_unit(u) for p, u in zip(space.params, units, strict=True)}
    if params["optimizer"] != "sgd":
        del params["momentum"]
    return params


@given(st.lists(st.lists(unit, min_size=len(SPACE), max_size=len(SPACE)), min_size=1, max_size=20))
def test_each_param_is_one_unit_column_and_nan_exactly_where_inactive(rows: list[list[float]]) -> None:
    trials = [trial(n, draw(units)) for n, units in enumerate(rows)]
    x = features(space, trials)
    assert x.shape == (len(trials), len(SPACE))
    for t, row in zip(trials, x, strict=True):
        for p, cell in zip(space.params, row, strict=True):
            if p.name in t.params:
                assert 0 <= cell <= 1 and cell == p.to_unit(t.params[p.name])
            else:
                assert math.isnan(cell)


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_the_deciding_param_ranks_first_whatever_the_seed(seed: int) -> None:
    rng = random.Random(seed)
    trials = []
    for n in range(60):
        params = draw([rng.random() for _ in SPACE])
        trials.append(trial(n, params, value=(math.log10(params["lr"]) + 3) ** 2))
    ranked = rank_params(space, trials, seed)
    assert ranked[0].param == "lr"
    assert math.isclose(sum(p.importance for p in ranked), 1)
