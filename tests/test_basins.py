"""The maths that tells a zoom's basins apart (nearest-better clusters cut at gaps), and who gets it."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from service.domain.space import SearchSpace
from service.domain.study import Direction, StudySpec
from service.samplers import LevelProgress, SamplerState, Scored, make_sampler, normalize_sampler
from service.samplers.basins import GAP_RATIO, MIN_GAP, TIE, clusters, distances

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
SPACE = SearchSpace.from_list(
    [
        {"name": "lr", "type": "float", "low": 1e-5, "high": 1, "scale": "log"},
        {"name": "beta", "type": "float", "low": 0.9, "high": 0.9999, "scale": "reverse_log"},
    ]
)
points = st.lists(st.lists(unit, min_size=2, max_size=2), max_size=30)


def blob(rng: random.Random, centre: tuple[float, float], spread: float, n: int) -> list[list[float]]:
    return [[c + rng.uniform(-spread, spread) for c in centre] for _ in range(n)]


@given(points)
def test_clusters_partition_the_points_each_starting_with_its_best(found: list[list[float]]) -> None:
    groups = clusters(found)
    assert sorted(i for group in groups for i in group) == list(range(len(found)))
    assert all(group == sorted(group) for group in groups)
    assert [group[0] for group in groups] == sorted(group[0] for group in groups)
    assert not found or groups[0][0] == 0


@given(points, st.floats(min_value=0.0, max_value=0.2))
def test_points_within_the_smallest_gap_of_each_other_are_one_basin(found: list[list[float]], scale: float) -> None:
    # Shrunk towards the middle until no two points are MIN_GAP apart: nothing can be cut.
    shrunk = [[0.5 + (x - 0.5) * scale * MIN_GAP for x in p] for p in found]
    assert len(clusters(shrunk)) <= 1


def test_two_separated_blobs_are_two_basins_best_first() -> None:
    rng = random.Random(0)
    a, b = blob(rng, (0.2, 0.2), 0.05, 6), blob(rng, (0.8, 0.7), 0.05, 6)
    found = [p for pair in zip(a, b, strict=True) for p in pair]  # best first, alternating
    assert clusters(found) == [list(range(0, 12, 2)), list(range(1, 12, 2))]


def test_middling_trials_on_the_ridge_do_not_bridge_two_basins() -> None:
    # Each basin's best first, then worse trials strung between them: single linkage would chain
    # them into one cluster; a link to the nearest better trial does not.
    rng = random.Random(1)
    basins = [[0.2, 0.2], [0.8, 0.8], *blob(rng, (0.2, 0.2), 0.04, 4), *blob(rng, (0.8, 0.8), 0.04, 4)]
    ridge = [[0.2 + 0.6 * t, 0.2 + 0.6 * t] for t in (0.3, 0.5, 0.7)]
    groups = clusters(basins + ridge)
    assert [group[0] for group in groups] == [0, 1]
    assert set(range(2, 6)) <= set(groups[0]) and set(range(6, 10)) <= set(groups[1])


def test_dense_trials_beside_coarse_ones_around_one_optimum_stay_one_basin() -> None:
    # A zoomed level's trials packed near the optimum, then the coarse level-0 trials around it.
    rng = random.Random(2)
    dense = blob(rng, (0.5, 0.5), 0.01, 10)
    coarse = [[0.5 + 0.25 * dx, 0.5 + 0.25 * dy] for dx, dy in ((1, 0), (0, 1), (-1, 0), (0, -1), (1, 1))]
    assert len(clusters(dense + coarse)) == 1


def test_a_lone_best_far_from_the_rest_is_no_basin_of_its_own() -> None:
    rng = random.Random(3)
    found = [[0.9, 0.9], *blob(rng, (0.3, 0.3), 0.02, 8)]
    assert len(clusters(found)) == 1


def test_a_gap_is_judged_against_the_spacing_on_both_sides() -> None:
    # Two pairs: each pair's link 0.05, the jump between them 0.5 (> GAP_RATIO x 0.05 and > MIN_GAP).
    found = [[0.1, 0.1], [0.6, 0.1], [0.1, 0.15], [0.6, 0.15]]
    assert clusters(found) == [[0, 2], [1, 3]]
    # Spread the pairs until the jump is no longer GAP_RATIO times their links: one basin.
    step = 0.5 / GAP_RATIO * 1.01
    assert len(clusters([[0.1, 0.1], [0.6, 0.1], [0.1, 0.1 + step], [0.6, 0.1 + step]])) == 1


def distance(a: Sequence[float | None], b: Sequence[float | None]) -> float:
    return max((abs(x - y) for x, y in zip(a, b, strict=True) if x is not None and y is not None), default=0.0)


@given(
    st.lists(st.one_of(st.none(), unit), min_size=3, max_size=3),
    st.lists(st.one_of(st.none(), unit), min_size=3, max_size=3),
)
def test_distance_is_the_largest_gap_on_a_shared_coordinate(a: list[float | None], b: list[float | None]) -> None:
    between = distances([a, b])
    assert between[0, 1] == between[1, 0] == distance(a, b) and between[0, 0] == 0.0


def reference_clusters(points: Sequence[Sequence[float | None]]) -> list[list[int]]:
    """Nearest-better clustering written out link by link, each gap found by walking the tree."""
    links = []  # (length, nearest better point, point)
    for i in range(1, len(points)):
        nearest = min(range(i), key=lambda j: distance(points[i], points[j]))
        links.append((distance(points[i], points[nearest]), nearest, i))

    def side(start: int, without: tuple[int, int]) -> list[float]:
        lengths, seen, todo = [], {start}, [start]
        while todo:
            here = todo.pop()
            for length, x, y in links:
                if {x, y} != set(without) and here in (x, y) and (other := y if here == x else x) not in seen:
                    seen.add(other)
                    todo.append(other)
                    lengths.append(length)
        return lengths

    root = list(range(len(points)))
    for length, better, i in links:
        sides = [side(better, (better, i)), side(i, (better, i))]
        gap = length > MIN_GAP and all(s and length > GAP_RATIO * sum(s) / len(s) * (1 + TIE) for s in sides)
        if not gap:
            root[i] = root[better]
    groups: dict[int, list[int]] = {}
    for i, first in enumerate(root):
        groups.setdefault(first, []).append(i)
    return list(groups.values())


maybe_unit = st.one_of(st.none(), unit, st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))


@given(st.integers(min_value=1, max_value=4).flatmap(lambda d: st.lists(st.lists(maybe_unit, min_size=d, max_size=d))))
def test_clusters_match_the_link_by_link_reference(found: list[list[float | None]]) -> None:
    assert clusters(found) == reference_clusters(found)


def test_a_study_stored_before_max_basins_existed_keeps_one_box() -> None:
    spec = StudySpec(direction=Direction.MINIMIZE, space=SPACE, sampler=normalize_sampler({"name": "coarse_to_fine"}))
    options = {key: value for key, value in spec.sampler.items() if key != "max_basins"}
    old = make_sampler(dataclasses.replace(spec, sampler=options), 0)
    # Two tight clusters of equally good trials far apart: a split for a new study, one box for the old one.
    units = [[0.1, 0.1], [0.9, 0.9], [0.11, 0.1], [0.9, 0.91], [0.1, 0.12], [0.91, 0.9]]
    best = [Scored(unit, value) for value, unit in enumerate(units)]
    state = SamplerState(level=1, version=1, level_start=16, data=make_sampler(spec, 0).initial_state() | {"box": {}})
    new_level = make_sampler(spec, 0).advance(state, LevelProgress(16, 16), lambda k, _: best[:k])
    old_level = old.advance(state, LevelProgress(16, 16), lambda k, _: best[:k])
    assert new_level is not None and old_level is not None
    assert len(new_level.data.get("basins", [])) == 1 and "basins" not in old_level.data
