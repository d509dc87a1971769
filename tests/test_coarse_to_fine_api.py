"""Coarse-to-fine over HTTP: regions shrink around the optimum, follow it to an edge, never
collapse below the floor; and the regions endpoint for every sampler."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from typing import Any

import pytest

from .test_studies_api import assert_error, put

SPACE = [
    {"name": "lr", "type": "float", "low": 1e-5, "high": 1, "scale": "log"},
    {"name": "beta", "type": "float", "low": 0.9, "high": 0.9999, "scale": "reverse_log"},
    {"name": "act", "type": "categorical", "choices": ["relu", "tanh", "gelu"]},
]
LR_BEST, BETA_BEST = 1e-3, 0.99  # the middle of each range on its own scale is 1e-2.5 and 0.999


def bowl(params: dict[str, Any]) -> float:
    """Minimum 0 at lr 1e-3, beta 0.99, act tanh: smooth on the params' own scales."""
    lr = math.log10(params["lr"]) - math.log10(LR_BEST)
    beta = math.log10(1 - params["beta"]) - math.log10(1 - BETA_BEST)
    return lr**2 + beta**2 + (0 if params["act"] == "tanh" else 1)


def run(api: Any, study: str, objective: Callable[[dict[str, Any]], float], trials: int) -> None:
    for _ in range(trials):
        (trial,) = api.post(f"/v1/studies/{study}/trials/ask", json={}).get_json()["trials"]
        told = api.post(
            f"/v1/studies/{study}/trials/{trial['id']}/tell",
            json={"state": "complete", "value": objective(trial["params"])},
        )
        assert told.status_code == 200


def levels(api: Any, study: str) -> list[dict[str, Any]]:
    body = api.get(f"/v1/studies/{study}/regions").get_json()
    assert body["current"] == len(body["levels"]) - 1
    return body["levels"]


def log_width(box: dict[str, Any]) -> float:
    """The lr box's width in decades (the search space spans 5)."""
    return math.log10(box["lr"]["high"]) - math.log10(box["lr"]["low"])


def test_regions_shrink_around_the_optimum(api: Any) -> None:
    put(api, "bowl", {"space": SPACE, "seed": 4})
    run(api, "bowl", bowl, 120)
    found = levels(api, "bowl")
    assert found[0]["box"] == {
        "lr": {"low": 1e-5, "high": 1.0},
        "beta": {"low": 0.9, "high": 0.9999},
        "act": {"choices": ["relu", "tanh", "gelu"]},
    }
    assert found[0]["asked"] == 16 and found[0]["note"] == "the whole space"
    zooms = [level for level in found if level["note"].startswith("zoom")]
    assert len(zooms) >= 4
    assert all(level["box"]["act"]["choices"] == ["tanh"] for level in zooms)
    box = zooms[-1]["box"]
    assert box["lr"]["low"] <= LR_BEST <= box["lr"]["high"]
    assert box["beta"]["low"] <= BETA_BEST <= box["beta"]["high"]
    widths = [log_width(level["box"]) for level in zooms]
    assert widths[-1] < 0.5 < 2.5 <= widths[0]
    assert api.get("/v1/studies/bowl/best").get_json()["value"] < 0.01
    assert sum(level["asked"] for level in found) == 120


def test_the_region_follows_an_optimum_on_an_edge(api: Any) -> None:
    put(api, "edge", {"space": SPACE[:1], "seed": 2})
    # Best at the top of the range: every zoom must reach the edge, whatever the region before.
    run(api, "edge", lambda p: -math.log10(p["lr"]), 80)
    zooms = [level for level in levels(api, "edge") if level["note"].startswith("zoom")]
    assert len(zooms) >= 3
    assert all(level["box"]["lr"]["high"] == 1.0 for level in zooms)
    lows = [level["box"]["lr"]["low"] for level in zooms]
    assert lows == sorted(lows) and lows[-1] > 0.1


def test_noise_never_collapses_the_region_below_the_floor(api: Any) -> None:
    noise = random.Random(0)
    floor = 0.05
    put(api, "noisy", {"space": SPACE[:1], "sampler": {"name": "coarse_to_fine", "floor": floor}, "seed": 1})
    run(api, "noisy", lambda p: noise.gauss(0, 1), 150)
    found = levels(api, "noisy")
    assert len(found) > 8
    for level in found:
        assert log_width(level["box"]) >= 5 * floor * (1 - 1e-9)


def test_each_trial_records_its_level_and_asks_during_a_level_change_count_once(api: Any) -> None:
    put(api, "s", {"space": SPACE, "sampler": {"name": "coarse_to_fine", "initial_trials": 4}, "seed": 1})
    batch = api.post("/v1/studies/s/trials/ask", json={"count": 6}).get_json()["trials"]
    assert [t["level"] for t in batch] == [0] * 6 and {t["source"] for t in batch} == {"coarse_to_fine"}
    for trial in batch:
        api.post(f"/v1/studies/s/trials/{trial['id']}/tell", json={"state": "complete", "value": bowl(trial["params"])})
    (first,) = api.post("/v1/studies/s/trials/ask", json={}).get_json()["trials"]
    (second,) = api.post("/v1/studies/s/trials/ask", json={}).get_json()["trials"]
    # The ask that found level 0 over budget zoomed, and was itself filled at level 0.
    assert (first["level"], second["level"]) == (0, 1)
    found = levels(api, "s")
    assert [(level["asked"], level["finished"]) for level in found] == [(7, 6), (1, 0)]
    assert found[0]["best"] == min(bowl(t["params"]) for t in batch)
    assert found[1]["best"] is None and found[1]["first_draw"] == 7


@pytest.mark.parametrize("sampler", [{"name": "random"}, {"name": "grid", "n": 3}])
def test_samplers_without_levels_show_one_region_the_whole_space(api: Any, sampler: dict[str, Any]) -> None:
    put(api, "s", {"space": SPACE, "sampler": sampler})
    run(api, "s", bowl, 5)
    (level,) = levels(api, "s")
    assert level["asked"] == level["finished"] == 5 and level["by"] == sampler["name"]
    assert level["box"]["lr"] == {"low": 1e-5, "high": 1.0}


def test_regions_page_and_refuse_bad_queries(api: Any) -> None:
    put(
        api,
        "s",
        {"space": SPACE[:1], "sampler": {"name": "coarse_to_fine", "initial_trials": 2, "trials_per_level": 2}},
    )
    run(api, "s", lambda p: p["lr"], 20)
    every = levels(api, "s")
    first = api.get("/v1/studies/s/regions?limit=2").get_json()
    rest = api.get(f"/v1/studies/s/regions?cursor={first['next_cursor']}&limit=1000").get_json()
    assert first["levels"] + rest["levels"] == every and rest["next_cursor"] is None
    assert_error(api.get("/v1/studies/s/regions?limit=0"), 422)
    assert_error(api.get("/v1/studies/s/regions?cursor=-1"), 422)
    assert_error(api.get("/v1/studies/nope/regions"), 404, "study_not_found")


@pytest.mark.parametrize(
    "options",
    [
        {"top_fraction": 0},
        {"top_fraction": 1.5},
        {"initial_trials": 1},
        {"exploration": -0.1},
        {"floor": 0},
        {"zoom": 2},
    ],
)
def test_bad_options_are_422(api: Any, options: dict[str, Any]) -> None:
    assert_error(
        put(api, "s", {"space": SPACE, "sampler": {"name": "coarse_to_fine", **options}}), 422, "invalid_sampler"
    )


# Two optima of nearly equal depth far apart on both params' own scales: a box spanning both
# would spend its draws on the ridge between them.
BASINS = [(1e-4, 0.95, 0.0), (1e-1, 0.999, 0.01)]  # lr, beta, the basin's floor value


def two_basins(params: dict[str, Any]) -> float:
    lr, beta = math.log10(params["lr"]), math.log10(1 - params["beta"])
    return min((lr - math.log10(a)) ** 2 + (beta - math.log10(1 - b)) ** 2 + v for a, b, v in BASINS)


def inside(params: dict[str, Any], box: dict[str, Any]) -> bool:
    return all(box[name]["low"] <= params[name] <= box[name]["high"] for name in ("lr", "beta"))


def boxes(level: dict[str, Any]) -> list[dict[str, Any]]:
    return [level["box"], *level["basins"]]


def side(box: dict[str, Any], ridge: float) -> str:
    return "below" if box["lr"]["high"] < ridge else "above" if box["lr"]["low"] > ridge else "across"


def test_a_zoom_keeps_a_box_around_each_of_two_basins_and_draws_inside_both(api: Any) -> None:
    put(api, "two", {"space": SPACE[:2], "seed": 3})
    run(api, "two", two_basins, 120)
    found = levels(api, "two")
    trials = api.get("/v1/studies/two/trials?limit=1000").get_json()["trials"]
    split = [level for level in found if len(level["basins"]) == 1]
    ridge = math.sqrt(BASINS[0][0] * BASINS[1][0])  # halfway between the optima on lr's log scale
    # One box on each side of the ridge, neither spanning it.
    apart = [level for level in split if sorted(side(box, ridge) for box in boxes(level)) == ["above", "below"]]
    assert len(apart) >= 2, [level["note"] for level in found]
    for level in split:
        drawn = [t["params"] for t in trials if t["level"] == level["level"]]
        assert all(any(inside(p, box) for p in drawn) for box in boxes(level))
    assert api.get("/v1/studies/two/best").get_json()["value"] < 0.01
    # Both optima were closed in on, the slightly worse one too.
    assert min(two_basins(t["params"]) for t in trials if t["params"]["lr"] > ridge) < 0.05


def test_a_hand_edit_limits_every_basin_and_drops_one_outside_it(api: Any) -> None:
    put(api, "two", {"space": SPACE[:2], "seed": 3})
    run(api, "two", two_basins, 36)
    split = levels(api, "two")[-1]
    ridge = math.sqrt(BASINS[0][0] * BASINS[1][0])
    assert len(split["basins"]) == 1 and side(split["box"], ridge) != side(split["basins"][0], ridge)
    study_id = api.get("/v1/studies/two").get_json()["id"]

    def edit(**change: Any) -> dict[str, Any]:
        response = api.post("/v1/studies/two/regions", json={"study_id": study_id, **change})
        assert response.status_code == 200, response.get_json()
        return response.get_json()  # type: ignore[no-any-return]

    # Limits that take in both basins leave both as they were.
    beta = [min(box["beta"]["low"] for box in boxes(split)), max(box["beta"]["high"] for box in boxes(split))]
    both = edit(param="lr", low=1e-5, high=1.0)
    assert both["basins"] == split["basins"] and both["box"]["lr"] == {"low": 1e-5, "high": 1.0}
    assert edit(param="beta", low=beta[0], high=beta[1])["basins"] == split["basins"]
    # Limits on the main basin's side of the ridge only: the other basin is dropped.
    main_side = edit(param="lr", low=split["box"]["lr"]["low"], high=split["box"]["lr"]["high"])
    assert main_side["basins"] == []
    run(api, "two", two_basins, 5)
    assert all(
        split["box"]["lr"]["low"] <= t["params"]["lr"] <= split["box"]["lr"]["high"]
        for t in api.get("/v1/studies/two/trials?limit=1000").get_json()["trials"][36:]
    )


def test_a_single_basin_keeps_one_box(api: Any) -> None:
    put(api, "bowl", {"space": SPACE, "seed": 4})
    run(api, "bowl", bowl, 120)
    assert all(level["basins"] == [] for level in levels(api, "bowl"))


def distance_to_bottom(params: dict[str, Any]) -> float:
    """How far a trial lies from the bowl's bottom: the largest gap on lr or beta, each on its
    unit scale (lr's range spans 5 decades, 1 - beta's 3)."""
    lr = abs(math.log10(params["lr"]) - math.log10(LR_BEST)) / 5
    beta = abs(math.log10(1 - params["beta"]) - math.log10(1 - BETA_BEST)) / 3
    return max(lr, beta)


def test_the_local_model_closes_in_on_the_bottom_of_a_bowl(api: Any) -> None:
    # The same study with and without the local model, then every draw of the main basin from it.
    for name, share in (("without", 0.0), ("with", 0.6), ("only", 1.0)):
        put(api, name, {"space": SPACE, "seed": 5, "sampler": {"name": "coarse_to_fine", "model_share": share}})
        run(api, name, bowl, 80)
    late, best = {}, {}
    for name in ("without", "with", "only"):
        trials = api.get(f"/v1/studies/{name}/trials?limit=1000").get_json()["trials"]
        late[name] = statistics.median(distance_to_bottom(t["params"]) for t in trials if t["level"] >= 3)
        best[name] = api.get(f"/v1/studies/{name}/best").get_json()["value"]
    # Seed 5 measured: the late draws' median distance 0.025 without, 0.0084 with, 0.0035 with only
    # the model; the best 2.2e-5 without, 3.1e-7 with.
    assert late["only"] < late["with"] < late["without"] / 2
    assert best["with"] < best["without"] / 10


def valley_to_an_edge(params: dict[str, Any]) -> float:
    """Minimum 0 at beta's top (0.9999), where lr 1e-3 is best: the lr that is best drifts with
    beta, and the values fall towards the edge. Near the minimum no quadratic is a bowl."""
    lr, beta = math.log10(params["lr"]), math.log10(1 - params["beta"]) + 4  # beta: 0 at the top, 3 at the bottom
    return (lr + 3 + 0.5 * beta) ** 2 + 0.3 * beta


def test_the_local_model_follows_a_valley_down_to_an_optimum_on_an_edge(api: Any) -> None:
    best = {}
    for name, share in (("without", 0.0), ("with", 0.6)):
        spec = {"space": SPACE[:2], "seed": 4, "sampler": {"name": "coarse_to_fine", "model_share": share}}
        put(api, name, spec)
        run(api, name, valley_to_an_edge, 80)
        best[name] = api.get(f"/v1/studies/{name}/best").get_json()["value"]
    # Seed 4 measured: 0.0056 without the model, 5.3e-5 with it; 0.0056 with it too while it
    # followed only bowls (seeds 1-5: 13-200 times better with the descent, equal without it).
    assert best["with"] < best["without"] / 10
