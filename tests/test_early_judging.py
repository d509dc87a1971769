"""Coarse-to-fine with the ASHA pruner judges a level from trials still training: once half of a
full level reached the pruner's first rung, it zooms around the best values there, before any of
them finishes. Over HTTP (Flask's client on real Redis), then many workers on gunicorn."""

from __future__ import annotations

import itertools
import math
import random
import threading
from collections import Counter
from typing import Any

import httpx
import pytest

from service.domain.stored import JudgePoint, LevelProgress, Ranking

from .servers import Gunicorn
from .test_coarse_to_fine_api import SPACE, bowl, levels
from .test_distinct_configs_gunicorn import all_trials, assert_distinct
from .test_portability_api import NDJSON
from .test_prepared_draws import client_command_lines, scripts_run
from .test_studies_api import put

ASHA = {"name": "asha", "min_resource": 1, "reduction_factor": 3}
SAMPLER = {"name": "coarse_to_fine", "initial_trials": 8, "trials_per_level": 6}


@pytest.mark.parametrize(
    ("asked", "done", "reported", "ranking"),
    [
        (9, 5, 9, None),  # not full yet: nothing judges it
        (10, 4, 4, None),  # full, but neither half finished nor half at the rung
        (10, 5, 0, Ranking.TOLD),
        (10, 0, 5, Ranking.FIRST_RUNG),
        (12, 6, 7, Ranking.FIRST_RUNG),  # both reached: the rung, as at every level of a study that reports
    ],
)
def test_a_judge_point_says_what_a_level_is_judged_by(
    asked: int, done: int, reported: int, ranking: Ranking | None
) -> None:
    assert JudgePoint(asked=10, done=5).reached(LevelProgress(asked, done, reported)) is ranking


def ask(api: Any, study: str) -> dict[str, Any]:
    response = api.post(f"/v1/studies/{study}/trials/ask", json={})
    assert response.status_code == 200, response.get_json()
    (trial,) = response.get_json()["trials"]
    return trial


def report(api: Any, study: str, trial: dict[str, Any], step: int, value: float) -> None:
    response = api.post(f"/v1/studies/{study}/trials/{trial['id']}/report", json={"step": step, "value": value})
    assert response.status_code == 200, response.get_json()


def first_rung_value(params: dict[str, Any]) -> float:
    """A learning curve's first point: the final loss plus what one step has not learnt yet."""
    return bowl(params) + 1.0


def test_a_full_level_is_judged_once_half_of_it_reached_the_first_rung(api: Any, redis_client: Any) -> None:
    put(api, "early", {"space": SPACE, "sampler": SAMPLER, "pruner": ASHA, "seed": 5})
    running = [ask(api, "early") for _ in range(8)]
    for trial in running[:3]:
        report(api, "early", trial, 1, first_rung_value(trial["params"]))
    # Full (8 asked) but only 3 of the 4 needed at the first rung: the level stays.
    assert ask(api, "early")["level"] == 0
    assert api.get("/v1/studies/early/regions").get_json()["current"] == 0
    report(api, "early", running[3], 1, first_rung_value(running[3]["params"]))
    # This ask reaches the judge point: it zooms (and is itself the last of level 0). Its
    # reservation brought the best trials at the rung along: no read of its own.
    scripted: list[list[str]] = []
    with client_command_lines(redis_client, "early", scripted) as judging:
        assert ask(api, "early")["level"] == 0
    assert scripts_run(judging) == Counter(ask=1, commit=1) and len(judging) == 2
    assert any(line[0] == "ZRANGE" and line[1].endswith(":rung:0") for line in scripted)
    found = levels(api, "early")
    assert len(found) == 2
    assert found[0]["finished"] == 0 and found[0]["reached_first_rung"] == 4
    assert found[1]["note"].startswith("zoom around the best") and "first rung" in found[1]["note"]
    # The zoom is centred on the best value at the rung: none of these trials has finished.
    best = min(running[:4], key=lambda trial: first_rung_value(trial["params"]))
    box = found[1]["box"]
    assert box["lr"]["low"] <= best["params"]["lr"] <= box["lr"]["high"]
    assert best["params"]["act"] in box["act"]["choices"]
    assert ask(api, "early")["level"] == 1


def test_an_exported_study_keeps_its_count_at_the_first_rung_and_zooms_on_the_same_ask(api: Any) -> None:
    put(api, "src", {"space": SPACE, "sampler": SAMPLER, "pruner": ASHA, "seed": 5})
    running = [ask(api, "src") for _ in range(8)]
    for trial in running[:3]:
        report(api, "src", trial, 1, first_rung_value(trial["params"]))
    exported = api.get("/v1/studies/src/export").get_data()
    assert api.post("/v1/studies/copy/import", data=exported, headers=NDJSON).status_code == 201
    assert levels(api, "copy") == levels(api, "src") and levels(api, "copy")[0]["reached_first_rung"] == 3
    for study in ("src", "copy"):
        fourth = api.get(f"/v1/studies/{study}/trials/3").get_json()
        report(api, study, fourth, 1, first_rung_value(fourth["params"]))
        ask(api, study)
    assert len(levels(api, "copy")) == 2
    assert [level["box"] for level in levels(api, "copy")] == [level["box"] for level in levels(api, "src")]


def test_without_asha_or_without_reports_a_level_waits_for_finished_trials(api: Any) -> None:
    put(api, "median", {"space": SPACE, "sampler": SAMPLER, "pruner": {"name": "median"}, "seed": 5})
    put(api, "silent", {"space": SPACE, "sampler": SAMPLER, "pruner": ASHA, "seed": 5})
    reported = [ask(api, "median") for _ in range(8)]
    for trial in reported:
        report(api, "median", trial, 1, first_rung_value(trial["params"]))
    silent = [ask(api, "silent") for _ in range(8)]
    for study, trials in (("median", reported), ("silent", silent)):
        assert ask(api, study)["level"] == 0 and levels(api, study)[0]["reached_first_rung"] == 0
        for trial in trials[:4]:
            told = api.post(
                f"/v1/studies/{study}/trials/{trial['id']}/tell",
                json={"state": "complete", "value": bowl(trial["params"])},
            )
            assert told.status_code == 200
        ask(api, study)
        found = levels(api, study)
        assert len(found) == 2 and found[0]["finished"] == 4
        assert "first rung" not in found[1]["note"]


BEST_AFTER_80 = 0.1


def test_levels_judged_at_the_rung_compare_their_bests_with_each_other(api: Any) -> None:
    # Every trial reports before it finishes, so every zoom ranks by the first rung: a level
    # whose best at the rung did not improve is "no improvement", whatever the told values say.
    put(api, "chain", {"space": SPACE, "sampler": SAMPLER, "pruner": ASHA, "seed": 6})
    rng = random.Random(6)
    running: list[dict[str, Any]] = []
    for _ in range(80):
        trial = ask(api, "chain")
        report(api, "chain", trial, 1, first_rung_value(trial["params"]))
        running.append(trial)
        if len(running) > 6:
            done = running.pop(rng.randrange(len(running)))
            told = api.post(
                f"/v1/studies/chain/trials/{done['id']}/tell",
                json={"state": "complete", "value": bowl(done["params"])},
            )
            assert told.status_code == 200
    found = levels(api, "chain")
    assert len(found) >= 6
    assert all("first rung" in level["note"] or level["note"].startswith("no improvement") for level in found[1:])
    # Zooming on the rung's values still closes in on the optimum (0 at lr 1e-3, beta 0.99, tanh).
    assert api.get("/v1/studies/chain/best").get_json()["value"] < BEST_AFTER_80


WORKERS = 8  # clients, each training IN_FLIGHT trials at once and stepping a random one
IN_FLIGHT = 3
PER_WORKER = 30
RUNGS = (1, 3, 9)  # min_resource 1, reduction factor 3: the steps each trial reports at


def _train_with_pruning(url: str, name: str, seed: int) -> None:
    """Each trial reports at every rung's step (its value falling towards its final loss) and
    stops when pruned; the trials in flight advance one step at a time in a random order."""
    rng = random.Random(seed)
    running: list[tuple[dict[str, Any], int]] = []  # (trial, index of the next rung it reports at)
    asked = 0
    with httpx.Client(base_url=url, timeout=60) as http:
        while asked < PER_WORKER or running:
            if asked < PER_WORKER and len(running) < IN_FLIGHT:
                response = http.post(f"/v1/studies/{name}/trials/ask", json={})
                assert response.status_code == 200, response.text
                running.append((response.json()["trials"][0], 0))
                asked += 1
                continue
            trial, rung = running.pop(rng.randrange(len(running)))
            final = bowl(trial["params"])
            if rung < len(RUNGS):
                step = RUNGS[rung]
                body = {"step": step, "value": final + 1.0 / step}
                reported = http.post(f"/v1/studies/{name}/trials/{trial['id']}/report", json=body)
                assert reported.status_code == 200, reported.text
                if not reported.json()["prune"]:
                    running.append((trial, rung + 1))
                    continue
                outcome: dict[str, Any] = {"state": "pruned"}
            else:
                outcome = {"state": "complete", "value": final}
            told = http.post(f"/v1/studies/{name}/trials/{trial['id']}/tell", json=outcome)
            assert told.status_code == 200, told.text


def test_many_workers_with_pruning_zoom_before_half_of_each_level_finished(redis_url: str, redis_client: Any) -> None:
    sampler = {"name": "coarse_to_fine", "initial_trials": 12, "trials_per_level": 8}
    with Gunicorn({"REDIS_URL": redis_url}, workers=2) as server:
        created = httpx.put(
            f"{server.url}/v1/studies/asha", json={"space": SPACE, "sampler": sampler, "pruner": ASHA, "seed": 8}
        )
        assert created.status_code == 201, created.text
        clients = [
            threading.Thread(target=_train_with_pruning, args=(server.url, "asha", seed)) for seed in range(WORKERS)
        ]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        found = httpx.get(f"{server.url}/v1/studies/asha/regions", params={"limit": 1000}).json()["levels"]
        trials = all_trials(server.url, "asha")
    assert len(trials) == WORKERS * PER_WORKER
    assert [level["level"] for level in found] == list(range(len(found))) and len(found) >= 8
    early = 0
    for level, following in itertools.pairwise(found):
        budget = sampler["initial_trials"] if level["level"] == 0 else sampler["trials_per_level"]
        # Judged from the rung: full, and half of it ranked there, by the time the level was left.
        assert level["reached_first_rung"] >= math.ceil(budget / 2), level
        assert "first rung" in following["note"] or following["note"].startswith("no improvement"), following
        mine = [t for t in trials if t["level"] == level["level"]]
        finished = [t for t in mine if t["finished_at"] <= following["created_at"]]
        early += len(finished) < math.ceil(budget / 2)
    # Most levels were left before half of their trials had finished: the point of judging early.
    assert early >= (len(found) - 1) / 2, (early, len(found))
    assert_distinct(trials)
