"""The maths of a warm start without Redis: configurations and regions projected onto a changed
space always land inside it, keep what still fits, and clip or skip what does not; and a trial's
stored record survives its portable form unchanged."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.domain.projection import OutOfBounds, project_configurations, project_region
from service.domain.space import SearchSpace
from service.domain.stored import DrawRecord, PortableTrial, StoredTrial
from service.domain.trial import TrialState
from service.storage.records import decode_portable, encode_record

OLD = SearchSpace.from_list(
    [
        {"name": "lr", "type": "float", "low": 1e-5, "high": 1, "scale": "log"},
        {"name": "layers", "type": "int", "low": 1, "high": 10},
        {"name": "act", "type": "categorical", "choices": ["relu", "tanh", "gelu"]},
        {"name": "gone", "type": "float", "low": 0, "high": 1},
    ]
)


@st.composite
def new_spaces(draw: Any) -> SearchSpace:
    low = draw(st.floats(1e-6, 1e-2))
    high = draw(st.floats(low * 2, 10))
    ints = sorted(draw(st.lists(st.integers(0, 12), min_size=2, max_size=2, unique=True)))
    choices = draw(st.lists(st.sampled_from(["relu", "tanh", "gelu", "silu"]), min_size=1, max_size=4, unique=True))
    return SearchSpace.from_list(
        [
            {"name": "lr", "type": "float", "low": low, "high": high, "scale": "log"},
            {"name": "layers", "type": "int", "low": ints[0], "high": ints[1], "step": 1},
            {"name": "act", "type": "categorical", "choices": choices},
            {"name": "wd", "type": "float", "low": 1e-6, "high": 1e-2, "scale": "log"},
        ]
    )


configurations = st.lists(
    st.fixed_dictionaries(
        {
            "lr": st.floats(1e-5, 1),
            "layers": st.integers(1, 10),
            "act": st.sampled_from(["relu", "tanh", "gelu"]),
            "gone": st.floats(0, 1),
        }
    ),
    max_size=12,
)


@given(configurations, new_spaces(), st.sampled_from(list(OutOfBounds)))
def test_projected_configurations_are_valid_in_the_new_space(
    configs: list[dict[str, Any]], new: SearchSpace, policy: OutOfBounds
) -> None:
    projected = project_configurations(configs, OLD, new, policy, seed=1)
    report = projected.report
    assert report["enqueued"] == len(projected.configurations)
    assert report["enqueued"] + report["skipped"] + report["duplicates"] == len(configs)
    assert report["dropped_params"] == ["gone"] and report["added_params"] == ["wd"]
    lr = new.by_name["lr"]
    for config in projected.configurations:
        assert new.normalize(config) == config
        assert "gone" not in config
    if policy is OutOfBounds.SKIP:
        assert "clipped" not in report or not report["clipped"]
    # Values that fit are kept as they were: clip skips nothing, so the first comes out first.
    if policy is OutOfBounds.CLIP and configs and lr.low <= configs[0]["lr"] <= lr.high:  # type: ignore[attr-defined]
        assert math.isclose(projected.configurations[0]["lr"], configs[0]["lr"], rel_tol=1e-11)


@given(configurations, new_spaces())
def test_clip_moves_an_outside_value_to_the_nearest_bound(configs: list[dict[str, Any]], new: SearchSpace) -> None:
    projected = project_configurations(configs, OLD, new, OutOfBounds.CLIP, seed=1)
    layers = new.by_name["layers"]
    assert projected.report["skipped"] == 0
    for config in projected.configurations:
        assert layers.low <= config["layers"] <= layers.high  # type: ignore[attr-defined]


@given(st.floats(0, 1), st.floats(0, 1), st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True), new_spaces())
def test_a_projected_region_is_a_proper_box_of_the_new_unit_cube(
    a: float, b: float, kept: list[int], new: SearchSpace
) -> None:
    low, high = min(a, b), max(a, b)
    region = project_region({"lr": [low, high], "gone": [0.2, 0.4]}, {"act": sorted(kept)}, OLD, new)
    if region is None:
        return
    assert set(region.box) <= {"lr"} and set(region.keep) <= {"act"}
    for box_low, box_high in region.box.values():
        assert 0 <= box_low < box_high <= 1
    act = new.by_name["act"]
    for indices in region.keep.values():
        old_choices = {OLD.by_name["act"].choices[i] for i in kept}  # type: ignore[attr-defined]
        assert {act.choices[i] for i in indices} <= old_choices  # type: ignore[attr-defined]
    assert region.describe(new)


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
draws = st.builds(
    DrawRecord,
    packed=st.lists(st.one_of(st.none(), finite, st.integers(-(10**6), 10**6), st.text(max_size=5)), max_size=4),
    source=st.sampled_from(["coarse_to_fine", "grid", "enqueued", "warm_start", "optuna"]),
    level=st.one_of(st.none(), st.integers(0, 50)),
    attempt=st.integers(0, 3),
    retry_of=st.one_of(st.none(), st.integers(0, 100)),
    retry_failed=st.booleans(),
)


@st.composite
def portable_trials(draw: Any) -> PortableTrial:
    state = draw(st.sampled_from(list(TrialState)))
    finished = state is not TrialState.RUNNING
    trial = StoredTrial(
        number=draw(st.integers(0, 10**7)),
        draw=draw(draws),
        asked_ms=draw(st.integers(0, 2**45)),
        worker=draw(st.one_of(st.none(), st.text(max_size=10))),
        state=state,
        value=draw(st.one_of(st.none(), finite)) if finished else None,
        error=draw(st.one_of(st.none(), st.text(max_size=20))) if finished else None,
        finished_ms=draw(st.integers(0, 2**45)) if finished else None,
    )
    return PortableTrial(trial, finished and draw(st.booleans()))


@given(portable_trials())
def test_a_record_survives_its_portable_form(trial: PortableTrial) -> None:
    record = encode_record(trial)
    again = decode_portable(trial.trial.number, record, None, [])
    assert again == trial
    assert encode_record(again) == record
