"""Warm start over HTTP: an earlier study's best configurations handed out first, alternating with
fresh draws (projected onto the new space, once each, under concurrent asks) and dropped once fresh
draws beat them; its final region as a share of level 0, and a stale region noticed and left."""

from __future__ import annotations

import math
import random
import threading
from collections import Counter
from typing import Any

from .test_coarse_to_fine_api import SPACE as BOWL_SPACE
from .test_coarse_to_fine_api import bowl, levels, run
from .test_studies_api import assert_error, put

OLD_SPACE = [
    {"name": "lr", "type": "float", "low": 1e-5, "high": 1, "scale": "log"},
    {"name": "momentum", "type": "float", "low": 0.5, "high": 0.99},
    {"name": "act", "type": "categorical", "choices": ["relu", "tanh", "gelu"]},
    {"name": "layers", "type": "int", "low": 1, "high": 8},
]
# A re-tune: lr narrowed, momentum gone, tanh gone, layers as a float, weight decay new.
NEW_SPACE = [
    {"name": "lr", "type": "float", "low": 1e-4, "high": 1e-2, "scale": "log"},
    {"name": "act", "type": "categorical", "choices": ["relu", "gelu"]},
    {"name": "layers", "type": "int", "low": 2, "high": 6},
    {"name": "wd", "type": "float", "low": 1e-6, "high": 1e-2, "scale": "log"},
]
# The old study's trials, best (lowest value) first.
OLD_CONFIGS = [
    {"lr": 1e-3, "momentum": 0.9, "act": "relu", "layers": 4},  # inside: kept as is
    {"lr": 2e-5, "momentum": 0.8, "act": "gelu", "layers": 3},  # lr below: clipped to 1e-4
    {"lr": 0.5, "momentum": 0.7, "act": "tanh", "layers": 8},  # lr and layers above; tanh gone
    {"lr": 2e-3, "momentum": 0.6, "act": "relu", "layers": 5},  # inside
    {"lr": 1e-3, "momentum": 0.95, "act": "relu", "layers": 4},  # the first one again, once momentum is gone
]


def fill_old(api: Any, name: str = "old") -> None:
    """A finished study whose best configurations are OLD_CONFIGS, in that order."""
    assert put(api, name, {"space": OLD_SPACE, "sampler": {"name": "random"}, "seed": 1}).status_code == 201
    assert api.post(f"/v1/studies/{name}/enqueue", json={"configurations": OLD_CONFIGS}).status_code == 200
    for value in range(len(OLD_CONFIGS)):
        (trial,) = api.post(f"/v1/studies/{name}/trials/ask", json={}).get_json()["trials"]
        api.post(f"/v1/studies/{name}/trials/{trial['id']}/tell", json={"state": "complete", "value": value})
    run(api, name, lambda p: 100.0, 5)  # worse trials, not among the best five


def ask(api: Any, name: str, count: int = 1) -> list[dict[str, Any]]:
    response = api.post(f"/v1/studies/{name}/trials/ask", json={"count": count})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["trials"]


def test_the_best_configurations_come_first_projected_onto_the_new_space(api: Any) -> None:
    fill_old(api)
    created = put(api, "new", {"space": NEW_SPACE, "seed": 3, "warm_start": {"from": "old", "top": 5}})
    assert created.status_code == 201, created.get_json()
    report = created.get_json()["warm_start"]
    assert report["from"] == "old" and report["top"] == 5 and report["out_of_bounds"] == "clip"
    assert report["considered"] == 5 and report["enqueued"] == 4 and report["duplicates"] == 1
    assert report["skipped"] == 0
    assert report["dropped_params"] == ["momentum"] and report["added_params"] == ["wd"]
    assert report["drawn"] == {"wd": 5}
    assert report["clipped"] == {"layers": 1, "lr": 2}
    assert report["redrawn"] == {"act": 1}
    assert report["region"] is None
    assert created.get_json()["queued"] == 4

    # They alternate with fresh draws, one of them first: the fresh ones judge them (see below).
    first = ask(api, "new", 8)
    assert [t["source"] for t in first] == ["warm_start", "coarse_to_fine"] * 4
    params = [t["params"] for t in first[::2]]
    assert [(p["lr"], p["layers"]) for p in params] == [(1e-3, 4), (1e-4, 3), (1e-2, 6), (2e-3, 5)]
    assert [params[0]["act"], params[1]["act"], params[3]["act"]] == ["relu", "gelu", "relu"]
    assert params[2]["act"] in ("relu", "gelu")
    assert all(1e-6 <= p["wd"] <= 1e-2 and "momentum" not in p for p in params)
    (after,) = ask(api, "new")
    assert after["source"] == "coarse_to_fine"


def test_skip_drops_configurations_outside_the_new_space(api: Any) -> None:
    fill_old(api)
    body = {"space": NEW_SPACE, "seed": 3, "warm_start": {"from": "old", "top": 5, "out_of_bounds": "skip"}}
    report = put(api, "new", body).get_json()["warm_start"]
    # The clipped lr, the out-of-range lr and layers and the vanished tanh each cost a place.
    assert report["enqueued"] == 2 and report["skipped"] == 2 and report["duplicates"] == 1
    assert report["skipped_by"] == {"lr": 2}
    assert [t["params"]["lr"] for t in ask(api, "new", 4)[::2]] == [1e-3, 2e-3]


def test_a_second_put_compares_the_spec_and_queues_nothing_again(api: Any) -> None:
    fill_old(api)
    body = {"space": NEW_SPACE, "seed": 3, "warm_start": {"from": "old", "top": 5}}
    assert put(api, "new", body).status_code == 201
    again = put(api, "new", body)
    assert again.status_code == 200 and again.get_json()["queued"] == 4
    assert again.get_json()["warm_start"]["from_uid"]
    assert api.get("/v1/studies/new").get_json()["warm_start"]["enqueued"] == 4


def test_warm_started_configurations_are_handed_out_once_under_concurrent_asks(api: Any, app: Any) -> None:
    put(api, "old", {"space": BOWL_SPACE, "sampler": {"name": "random"}, "seed": 5})
    run(api, "old", bowl, 60)
    body = {"space": BOWL_SPACE, "seed": 6, "warm_start": {"from": "old", "top": 40}}
    assert put(api, "new", body).status_code == 201
    handed: list[dict[str, Any]] = []
    lock = threading.Lock()

    def worker(count: int) -> None:
        client = app.test_client()
        for _ in range(6):
            trials = ask(client, "new", count)
            with lock:
                handed.extend(trials)
            # Finished in the order they come, while the others keep asking.
            for trial in reversed(trials):
                client.post(f"/v1/studies/new/trials/{trial['id']}/tell", json={"state": "complete", "value": 1.0})

    threads = [threading.Thread(target=worker, args=(1 + i % 3,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sources = Counter(t["source"] for t in handed)
    assert sources["warm_start"] == 40 and len(handed) == 6 * sum(1 + i % 3 for i in range(8))
    warm = [tuple(sorted(t["params"].items())) for t in handed if t["source"] == "warm_start"]
    assert len(set(warm)) == 40
    numbers = [t["number"] for t in handed]
    assert len(set(numbers)) == len(numbers)
    old_best = api.get("/v1/studies/old/trials", query_string={"order": "value", "limit": 40}).get_json()["trials"]
    assert set(warm) == {tuple(sorted(t["params"].items())) for t in old_best}


def tell(api: Any, trial: dict[str, Any], value: float) -> None:
    response = api.post(f"/v1/studies/new/trials/{trial['id']}/tell", json={"state": "complete", "value": value})
    assert response.status_code == 200, response.get_json()


def warm_started(api: Any, direction: str = "minimize", top: int = 20) -> None:
    put(api, "old", {"space": BOWL_SPACE, "sampler": {"name": "random"}, "seed": 5})
    run(api, "old", bowl, 30)
    body = {"space": BOWL_SPACE, "seed": 6, "direction": direction, "warm_start": {"from": "old", "top": top}}
    assert put(api, "new", body).status_code == 201


def test_fresh_draws_that_beat_the_warm_start_drop_the_rest_of_it(api: Any) -> None:
    warm_started(api)
    trials = ask(api, "new", 4)  # warm, fresh, warm, fresh
    assert [t["source"] for t in trials] == ["warm_start", "coarse_to_fine"] * 2
    tell(api, trials[0], 5.0)
    tell(api, trials[1], 1.0)  # a fresh draw beats the one warm trial told: not judged on one
    assert api.get("/v1/studies/new").get_json()["warm_start"]["abandoned"] is None
    tell(api, trials[2], 3.0)  # two told, both beaten: the old optimum moved
    study = api.get("/v1/studies/new").get_json()
    assert study["warm_start"]["abandoned"] == {"dropped": 18, "after_trial": trials[2]["number"]}
    assert study["queued"] == 0
    assert all(t["source"] == "coarse_to_fine" for t in ask(api, "new", 10))
    tell(api, trials[3], 0.5)  # judging is over: nothing changes
    assert api.get("/v1/studies/new").get_json()["warm_start"]["abandoned"]["dropped"] == 18


def test_a_warm_start_that_holds_its_own_is_handed_out_whole(api: Any) -> None:
    warm_started(api, direction="maximize", top=6)
    handed = []
    for _ in range(12):
        (trial,) = ask(api, "new")
        handed.append(trial)
        # Maximising: the warm configurations score higher than every fresh draw.
        tell(api, trial, 10.0 if trial["source"] == "warm_start" else 1.0)
    assert [t["source"] for t in handed] == ["warm_start", "coarse_to_fine"] * 6
    study = api.get("/v1/studies/new").get_json()
    assert study["warm_start"]["abandoned"] is None and study["queued"] == 0


def test_retries_failures_and_hand_enqueued_trials_do_not_judge_the_warm_start(api: Any) -> None:
    warm_started(api)
    hand = {"configurations": [{"lr": 0.01, "beta": 0.99, "act": "relu"}]}
    assert api.post("/v1/studies/new/enqueue", json=hand).status_code == 200
    first = ask(api, "new", 5)
    # A hand-enqueued configuration goes before everything, then warm and fresh alternate.
    assert [t["source"] for t in first] == ["enqueued", "warm_start", "coarse_to_fine", "warm_start", "coarse_to_fine"]
    tell(api, first[1], 5.0)
    tell(api, first[3], 5.0)
    tell(api, first[0], 0.0)  # hand-enqueued: no judge
    failed = {"state": "failed", "error": "out of memory"}
    assert api.post(f"/v1/studies/new/trials/{first[2]['id']}/tell", json=failed).status_code == 200
    assert api.get("/v1/studies/new").get_json()["warm_start"]["abandoned"] is None
    tell(api, first[4], 1.0)  # a fresh draw that beats both
    assert api.get("/v1/studies/new").get_json()["warm_start"]["abandoned"]["after_trial"] == first[4]["number"]


def test_many_workers_in_flight_judge_the_warm_start_once(api: Any, app: Any) -> None:
    """8 workers, up to 9 trials in flight told in random order: every warm configuration is
    handed out at most once, none after the drop, and the report counts what never was."""
    warm_started(api, top=30)
    rng = random.Random(3)
    in_flight: list[dict[str, Any]] = []
    handed: list[dict[str, Any]] = []
    lock = threading.Lock()

    def worker() -> None:
        client = app.test_client()
        for _ in range(12):
            (trial,) = ask(client, "new")
            with lock:
                handed.append(trial)
                in_flight.append(trial)
                done = in_flight.pop(rng.randrange(len(in_flight))) if len(in_flight) > 8 else None
            if done is not None:
                tell(client, done, 5.0 if done["source"] == "warm_start" else 1.0 + rng.random())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    warm = [t for t in handed if t["source"] == "warm_start"]
    assert len({tuple(sorted(t["params"].items())) for t in warm}) == len(warm)
    abandoned = api.get("/v1/studies/new").get_json()["warm_start"]["abandoned"]
    assert abandoned is not None and abandoned["dropped"] == 30 - len(warm) > 0
    assert all(t["source"] == "coarse_to_fine" for t in ask(api, "new", 20))


def inside(params: dict[str, Any], box: dict[str, Any]) -> bool:
    lr, beta = box["lr"], box["beta"]
    return (
        lr["low"] <= params["lr"] <= lr["high"]
        and beta["low"] <= params["beta"] <= beta["high"]
        and params["act"] in box["act"]["choices"]
    )


def zoomed_old(api: Any) -> dict[str, Any]:
    """A coarse-to-fine study that zoomed in on the bowl's optimum; its final region."""
    put(api, "old", {"space": BOWL_SPACE, "seed": 4})
    run(api, "old", bowl, 80)
    final = levels(api, "old")[-1]
    assert final["level"] >= 3
    return final["box"]


def test_region_draws_a_share_of_level_zero_inside_the_old_region(api: Any) -> None:
    old_box = zoomed_old(api)
    body = {
        "space": BOWL_SPACE,
        "seed": 7,
        "sampler": {"name": "coarse_to_fine", "initial_trials": 40},
        "warm_start": {"from": "old", "top": 0, "region": True, "region_share": 0.5},
    }
    report = put(api, "new", body).get_json()["warm_start"]
    # Half of a level 0 grown by them: 40 configurations inside the old region, 40 fresh draws.
    assert report["enqueued"] == 0 and report["region"]["share"] == 0.5
    assert report["region"]["configurations"] == 40
    level0 = levels(api, "new")[0]
    assert "inherited from study 'old'" in level0["note"] and "lr " in level0["note"]
    # Level 0 itself spans the whole space; the inherited region's configurations lie inside it.
    assert level0["box"]["lr"] == {"low": 1e-5, "high": 1.0}
    drawn = ask(api, "new", 80)
    assert [t["source"] for t in drawn] == ["warm_start", "coarse_to_fine"] * 40
    warm, fresh = drawn[::2], drawn[1::2]
    assert all(inside(t["params"], old_box) for t in warm)
    assert len({tuple(sorted(t["params"].items())) for t in warm}) == 40
    assert all(t["level"] == 0 for t in fresh)
    assert sum(inside(t["params"], old_box) for t in fresh) < 20  # the whole space, mostly outside
    for trial in drawn:
        api.post(
            f"/v1/studies/new/trials/{trial['id']}/tell", json={"state": "complete", "value": bowl(trial["params"])}
        )
    # The old region still holds the optimum: its configurations beat the fresh ones, none dropped.
    assert api.get("/v1/studies/new").get_json()["warm_start"]["abandoned"] is None
    # Level 0 is a cold start's 40 draws: the next ask zooms (it is filled at level 0), then level 1.
    assert [ask(api, "new")[0]["level"] for _ in range(2)] == [0, 1]


def test_a_stale_region_is_noticed_and_left(api: Any) -> None:
    zoomed_old(api)  # its region lies around lr 1e-3
    body = {"space": BOWL_SPACE, "seed": 8, "warm_start": {"from": "old", "top": 5, "region": True}}
    assert put(api, "new", body).status_code == 201

    def moved(params: dict[str, Any]) -> float:
        """The optimum went far: lr 0.3 instead of 1e-3."""
        return bowl({**params, "lr": params["lr"] * 1e-3 / 0.3})

    run(api, "new", moved, 100)
    found = levels(api, "new")
    assert found[0]["note"].startswith("the whole space, and 6 warm-start configurations")
    # The top 5 and the region's 6 lost to fresh draws: the rest of them were dropped.
    abandoned = api.get("/v1/studies/new").get_json()["warm_start"]["abandoned"]
    assert abandoned is not None and abandoned["dropped"] > 0
    final = [level for level in found if "restart" not in level["note"]][-1]["box"]["lr"]
    # The last zoom: far from the old region around 1e-3, and within a decade of the new optimum.
    assert final["low"] > 1e-2 and final["high"] > 0.03
    best = api.get("/v1/studies/new/best").get_json()
    assert abs(math.log10(best["params"]["lr"]) - math.log10(0.3)) < 0.3


def test_warm_start_errors(api: Any) -> None:
    fill_old(api)
    missing = put(api, "new", {"space": NEW_SPACE, "warm_start": {"from": "nope"}})
    assert_error(missing, 422, "warm_start_source_not_found")
    itself = put(api, "old2", {"space": OLD_SPACE, "warm_start": {"from": "old2"}})
    assert_error(itself, 422, "invalid_warm_start")
    random_region = {"space": NEW_SPACE, "sampler": {"name": "random"}, "warm_start": {"from": "old", "region": True}}
    assert_error(put(api, "new", random_region), 422, "invalid_warm_start")
    too_many = put(api, "new", {"space": NEW_SPACE, "warm_start": {"from": "old", "top": 10**6}})
    assert_error(too_many, 422, "invalid_warm_start")
    assert_error(put(api, "new", {"space": NEW_SPACE, "warm_start": {"top": 3}}), 422, "invalid_input")
    assert_error(put(api, "new", {"space": NEW_SPACE, "warm_start": {"from": "old", "share": 1}}), 422, "invalid_input")
    assert api.get("/v1/studies/new").status_code == 404
