"""An ask of one trial is one Redis round trip once draws are prepared ahead, and a prepared draw
is exactly the configuration the reserve-and-commit path would have given."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest

from .test_coarse_to_fine_api import SPACE, bowl, levels
from .test_studies_api import put

SAMPLERS = [{"name": "random"}, {"name": "grid", "n": 4, "shuffle": True}, {"name": "coarse_to_fine"}]


@contextmanager
def client_commands(redis_client: Any, study: str) -> Iterator[list[str]]:
    """The commands that reach Redis from clients (not from inside scripts) while the block runs,
    as seen by MONITOR on the server (on a cluster, the node that holds the study)."""
    server = redis_client
    if hasattr(redis_client, "get_node_from_key"):
        server = redis_client.get_node_from_key(f"hone:{{{study}}}:study").redis_connection
    seen: list[str] = []
    with server.monitor() as monitor:

        def read_until(marker: str) -> list[str]:
            server.echo(marker)
            commands = []
            while (command := monitor.next_command())["command"] != f"ECHO {marker}":
                if command["client_type"] != "lua":
                    commands.append(command["command"].split()[0])
            return commands

        read_until("start")  # also opens the connection the closing ECHO comes through
        yield seen
        seen += read_until("end")


def ask(api: Any, study: str, count: int = 1, **body: Any) -> list[dict[str, Any]]:
    response = api.post(f"/v1/studies/{study}/trials/ask", json={"count": count, **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["trials"]


def tell(api: Any, study: str, trial: dict[str, Any], value: float) -> None:
    told = api.post(f"/v1/studies/{study}/trials/{trial['number']}/tell", json={"state": "complete", "value": value})
    assert told.status_code == 200, told.get_json()


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda s: s["name"])
def test_an_ask_and_a_tell_are_one_redis_round_trip_each(api: Any, redis_client: Any, sampler: dict[str, Any]) -> None:
    put(api, "s", {"space": SPACE, "sampler": sampler, "seed": 3})
    tell(api, "s", ask(api, "s")[0], 1.0)  # the first ask reserves, and prepares the next draws
    with client_commands(redis_client, "s") as asking:
        trial = ask(api, "s", worker="w1", lease_seconds=60)[0]
    with client_commands(redis_client, "s") as telling:
        tell(api, "s", trial, 0.5)
    assert (asking, telling) == (["EVALSHA"], ["EVALSHA"])
    assert trial["number"] == 1 and trial["worker"] == "w1" and trial["state"] == "running"
    lease = datetime.fromisoformat(trial["lease_expires_at"]) - datetime.fromisoformat(trial["asked_at"])
    assert lease.total_seconds() == pytest.approx(60, abs=0.01)
    stored = api.get("/v1/studies/s/trials/1").get_json()
    fields = ("number", "params", "worker", "asked_at", "source", "level")
    assert {k: stored[k] for k in fields} == {k: trial[k] for k in fields}
    assert (stored["state"], stored["value"]) == ("complete", 0.5)


@pytest.mark.parametrize("sampler", SAMPLERS[:2], ids=lambda s: s["name"])
def test_prepared_draws_are_the_configurations_a_reservation_gives(api: Any, sampler: dict[str, Any]) -> None:
    # Batches always reserve and commit; single asks mostly take prepared draws.
    put(api, "batched", {"space": SPACE, "sampler": sampler, "seed": 5})
    put(api, "single", {"space": SPACE, "sampler": sampler, "seed": 5})
    batched = [t for _ in range(8) for t in ask(api, "batched", 5)]
    single = [ask(api, "single")[0] for _ in range(40)]
    assert [(t["number"], t["params"]) for t in single] == [(t["number"], t["params"]) for t in batched]


def test_a_retry_or_an_enqueued_configuration_goes_before_the_prepared_draws(api: Any) -> None:
    put(api, "s", {"space": SPACE, "sampler": {"name": "random"}, "seed": 1})
    first = ask(api, "s")[0]
    pinned = {"lr": 0.001, "beta": 0.99, "act": "gelu"}
    assert api.post("/v1/studies/s/enqueue", json={"configurations": [pinned]}).status_code == 200
    assert ask(api, "s")[0]["params"] == pinned
    following = ask(api, "s")[0]
    assert following["source"] == "random" and following["number"] == 2 and following["params"] != first["params"]


def test_coarse_to_fine_still_zooms_on_time_with_prepared_draws(api: Any) -> None:
    put(api, "bowl", {"space": SPACE, "seed": 4, "sampler": {"name": "coarse_to_fine", "initial_trials": 12}})
    trials = []
    for _ in range(30):
        trial = ask(api, "bowl")[0]
        tell(api, "bowl", trial, bowl(trial["params"]))
        trials.append(trial)
    assert [t["level"] for t in trials[:13]] == [0] * 12 + [1]
    found = levels(api, "bowl")
    assert [level["asked"] for level in found[:2]] == [12, 10]


def test_the_ask_after_a_zoom_is_one_round_trip_and_draws_from_the_new_level(api: Any, redis_client: Any) -> None:
    # The ask that zooms prepares the new level's first draws, so the next one takes a prepared draw.
    put(api, "zoom", {"space": SPACE, "seed": 4, "sampler": {"name": "coarse_to_fine", "initial_trials": 12}})
    for _ in range(12):
        trial = ask(api, "zoom")[0]
        tell(api, "zoom", trial, bowl(trial["params"]))
    assert [level["level"] for level in levels(api, "zoom")] == [0, 1]
    with client_commands(redis_client, "zoom") as asking:
        after = ask(api, "zoom")[0]
    assert asking == ["EVALSHA"]
    assert after["level"] == 1
    # The prepared draw is the one the reserve-and-commit path gives for the same number and state.
    put(api, "twin", {"space": SPACE, "seed": 4, "sampler": {"name": "coarse_to_fine", "initial_trials": 12}})
    for _ in range(12):
        trial = ask(api, "twin")[0]
        tell(api, "twin", trial, bowl(trial["params"]))
    batch = ask(api, "twin", 2)  # a batch always reserves and commits
    assert (batch[0]["number"], batch[0]["level"], batch[0]["params"]) == (after["number"], 1, after["params"])
