"""No two trials of a study get equal params, however many workers ask at once.

Several clients on real gunicorn and Redis each keep many trials asked and tell them in a random
order, on every sampler, across zooms, restarts from the whole space, hand edits of the region and
a gunicorn restart. Equal params are allowed only where a trial says why: a retry of another
trial (`retry_of`), an enqueued configuration (`source: enqueued`), or a region with no other
point left (`source: repeat`).
"""

from __future__ import annotations

import json
import math
import random
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from .servers import Gunicorn

CLIENTS = 4
IN_FLIGHT = 8  # per client: 32 trials of one study asked and not yet told
SPACE = [
    {"name": "lr", "type": "float", "low": 1e-5, "high": 1e-1, "scale": "log"},
    {"name": "beta", "type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"},
    {"name": "act", "type": "categorical", "choices": ["relu", "tanh", "gelu"]},
]
Objective = Callable[[dict[str, Any]], float]


def bowl(params: dict[str, Any]) -> float:
    """A smooth optimum inside the space: the sampler keeps zooming towards it."""
    return (
        (math.log10(params["lr"]) + 3) ** 2
        + (math.log10(1 - params["beta"]) + 2) ** 2
        + {"relu": 0.0, "tanh": 0.5, "gelu": 0.2}[params["act"]]
    )


def flat(params: dict[str, Any]) -> float:
    """No level ever improves: coarse-to-fine zooms closer and then restarts from the whole space."""
    return 1.0


@pytest.fixture
def server(redis_url: str, redis_client: Any) -> Iterator[Gunicorn]:
    with Gunicorn({"REDIS_URL": redis_url}, workers=2) as running:
        yield running


def _client(url: str, name: str, trials: int, seed: int, objective: Objective, open_: list[dict[str, Any]]) -> None:
    """Ask up to `trials`, keep IN_FLIGHT open, tell a random one of them; fail every 9th first
    attempt (a grid offers it again). Leaves the last IN_FLIGHT // 2 in `open_`, untold."""
    rng = random.Random(seed)
    running, asked = list(open_), 0
    open_.clear()
    with httpx.Client(base_url=url, timeout=60) as http:
        while True:
            while asked < trials and len(running) < IN_FLIGHT:
                response = http.post(f"/v1/studies/{name}/trials/ask", json={})
                if response.status_code == 409 and response.json()["error"]["code"] == "search_exhausted":
                    asked = trials
                    break
                assert response.status_code == 200, response.text
                running.append(response.json()["trials"][0])
                asked += 1
            if len(running) <= (IN_FLIGHT // 2 if asked >= trials else 0):
                break
            trial = running.pop(rng.randrange(len(running)))
            fail = trial["attempt"] == 0 and trial["number"] % 9 == 4
            value = objective(trial["params"])
            body = {"state": "failed", "error": "oom"} if fail else {"state": "complete", "value": value}
            told = http.post(f"/v1/studies/{name}/trials/{trial['number']}/tell", json=body)
            assert told.status_code == 200, told.text
    open_.extend(running)


def drive(url: str, name: str, trials: int, objective: Objective, opened: list[list[dict[str, Any]]]) -> None:
    """CLIENTS threads, `trials` asks each; `opened[i]` carries client i's untold trials on."""
    threads = [
        threading.Thread(target=_client, args=(url, name, trials, 100 * len(opened[i]) + i, objective, opened[i]))
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def tell_all(url: str, name: str, opened: list[list[dict[str, Any]]]) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        for trial in [t for group in opened for t in group]:
            body = {"state": "complete", "value": 1.0}
            assert http.post(f"/v1/studies/{name}/trials/{trial['number']}/tell", json=body).status_code == 200


def all_trials(url: str, name: str) -> list[dict[str, Any]]:
    trials: list[dict[str, Any]] = []
    cursor = None
    with httpx.Client(base_url=url, timeout=60) as http:
        while True:
            query = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = http.get(f"/v1/studies/{name}/trials", params=query)
            assert page.status_code == 200, page.text
            trials.extend(page.json()["trials"])
            cursor = page.json()["next_cursor"]
            if not cursor:
                return trials


def assert_distinct(trials: list[dict[str, Any]]) -> None:
    """Every group of trials with equal params has one fresh draw; the others say why they repeat it."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for trial in trials:
        groups[json.dumps(trial["params"], sort_keys=True)].append(trial)
    unexplained = {
        key: [(t["number"], t["source"], t["level"]) for t in group]
        for key, group in groups.items()
        if sum(1 for t in group if t["retry_of"] is None and t["source"] not in ("enqueued", "repeat")) > 1
    }
    assert unexplained == {}


def create(url: str, name: str, sampler: dict[str, Any], seed: int) -> None:
    response = httpx.put(f"{url}/v1/studies/{name}", json={"space": SPACE, "sampler": sampler, "seed": seed})
    assert response.status_code == 201, response.text


def levels(url: str, name: str) -> list[dict[str, Any]]:
    return httpx.get(f"{url}/v1/studies/{name}/regions", params={"limit": 1000}).json()["levels"]


def test_coarse_to_fine_with_32_trials_in_flight_never_repeats_a_configuration(server: Gunicorn) -> None:
    for seed in range(3):
        name = f"c2f-{seed}"
        create(server.url, name, {"name": "coarse_to_fine"}, seed)
        opened: list[list[dict[str, Any]]] = [[] for _ in range(CLIENTS)]
        drive(server.url, name, 50, bowl, opened)
        tell_all(server.url, name, opened)
        assert len(levels(server.url, name)) >= 5  # the race runs across several zooms
        assert_distinct(all_trials(server.url, name))


def test_restarts_hand_edits_and_a_gunicorn_restart_never_repeat_a_configuration(
    redis_url: str, server: Gunicorn
) -> None:
    name = "edits"
    create(server.url, name, {"name": "coarse_to_fine", "initial_trials": 8, "trials_per_level": 8}, 5)
    opened: list[list[dict[str, Any]]] = [[] for _ in range(CLIENTS)]
    drive(server.url, name, 25, flat, opened)
    edits = [
        {"param": "lr", "low": 1e-4, "high": 1e-2},  # narrow
        {"param": "lr", "low": 1e-5, "high": 1e-1},  # widen
        {"param": "act", "value": "relu"},  # pin: two floats still vary
    ]
    for edit in edits:
        response = httpx.post(f"{server.url}/v1/studies/{name}/regions", json={"note": "by hand", **edit})
        assert response.status_code == 200, response.text
        drive(server.url, name, 20, flat, opened)
    server.stop()
    with Gunicorn({"REDIS_URL": redis_url}, workers=2) as restarted:
        # The trials asked before the restart are told after it, among new asks.
        drive(restarted.url, name, 25, flat, opened)
        tell_all(restarted.url, name, opened)
        notes = [level["note"] for level in levels(restarted.url, name)]
        assert any("restart" in note for note in notes) and sum(note == "by hand" for note in notes) == 3
        assert_distinct(all_trials(restarted.url, name))


@pytest.mark.parametrize("sampler", [{"name": "random"}, {"name": "grid", "n": 6, "shuffle": True}])
def test_random_and_grid_never_repeat_a_configuration(server: Gunicorn, sampler: dict[str, Any]) -> None:
    create(server.url, "s", sampler, 2)
    opened: list[list[dict[str, Any]]] = [[] for _ in range(CLIENTS)]
    drive(server.url, "s", 40, bowl, opened)  # the grid (108 points) runs out and offers failures again
    tell_all(server.url, "s", opened)
    trials = all_trials(server.url, "s")
    assert len(trials) >= 108
    assert_distinct(trials)


SMALL = [  # 12 points
    {"name": "layers", "type": "int", "low": 1, "high": 4},
    {"name": "act", "type": "categorical", "choices": ["relu", "tanh", "gelu"]},
]


@pytest.mark.parametrize("sampler", ["random", "coarse_to_fine"])
def test_a_region_with_few_points_repeats_one_only_when_none_is_left(server: Gunicorn, sampler: str) -> None:
    response = httpx.put(f"{server.url}/v1/studies/small", json={"space": SMALL, "sampler": {"name": sampler}})
    assert response.status_code == 201, response.text
    opened: list[list[dict[str, Any]]] = [[] for _ in range(CLIENTS)]
    drive(server.url, "small", 10, lambda params: float(params["layers"]), opened)
    tell_all(server.url, "small", opened)
    trials = all_trials(server.url, "small")
    assert_distinct(trials)
    first = [t for t in trials if t["source"] == sampler]
    # Each of the 12 points was drawn once; every later trial says it repeats one.
    assert len(first) == 12 and len({json.dumps(t["params"], sort_keys=True) for t in first}) == 12
    assert {t["source"] for t in trials} == {sampler, "repeat"}


def test_one_batch_larger_than_the_region_labels_its_repeats(server: Gunicorn) -> None:
    response = httpx.put(f"{server.url}/v1/studies/batch", json={"space": SMALL, "sampler": {"name": "random"}})
    assert response.status_code == 201, response.text
    trials = httpx.post(f"{server.url}/v1/studies/batch/trials/ask", json={"count": 20}).json()["trials"]
    assert_distinct(trials)
    assert sorted(t["source"] for t in trials) == ["random"] * 12 + ["repeat"] * 8
