"""Re-tuning: does a warm start from the earlier study find a good value in fewer trials than a
cold start, and what does it cost when the optimum moved far? Run by hand, under nice:

    nice -n 19 .venv/bin/python -m bench.retune --seeds 20

Each task is an old objective, tuned first (a cold coarse-to-fine study), and a new one whose
optimum drifted a little (a changed dataset, a shifted objective, a changed space) or moved far.
On the new objective each arm starts from nothing, from the old study's 3 or 10 best, or from
its 3 best and configurations drawn in its final region (a quarter of level 0). Each reports the trials
until the best value is within THRESHOLD of the new optimum (budget + 1 when it never is) and
the best value at the end of the budget, as medians over seeds; the old study is the same for
every arm of a seed. Writes bench/results/retune-<date>.md with the machine and the date.

The objectives are smooth bowls on the params' own scales with a ripple (local minima) and a
categorical penalty, as in bench/tasks.py; optimum 0, at a known centre.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.app import create_app
from service.config import Settings
from service.embedded_redis import EmbeddedRedis

from .common import record
from .tasks import LR, MOMENTUM, _unit

THRESHOLD = 0.1  # "a good value": within about a tenth of the lr range of the optimum, the right choice
BUDGET = 80  # trials of the new study, per arm
OLD_BUDGET = 80  # trials of the old study
# Each arm's warm start (None: a cold start).
ARMS: dict[str, dict[str, Any] | None] = {
    "cold": None,
    "top 3": {"top": 3},
    "top 10": {"top": 10},
    "top 3 + region": {"top": 3, "region": True},
}

BATCH = {"type": "int", "low": 16, "high": 512, "scale": "log"}
L2 = {"type": "float", "low": 1e-6, "high": 1e-2, "scale": "log"}
ACT = {"type": "categorical", "choices": ["relu", "tanh", "gelu"]}
OLD_SPACE = [{"name": "lr", **LR}, {"name": "momentum", **MOMENTUM}, {"name": "batch", **BATCH}, {"name": "act", **ACT}]
# The re-tune's space: lr narrowed to where it ever mattered, weight decay added.
NEW_SPACE = [{**OLD_SPACE[0], "low": 1e-4, "high": 0.1}, *OLD_SPACE[1:], {"name": "l2", **L2}]
WEIGHTS = {"lr": 6.0, "momentum": 3.0, "batch": 1.5, "l2": 2.0}
RIPPLE = 0.02  # depth of the ripples: local minima a sampler must look past
ACT_PENALTY = 0.3


def bowl(space: list[dict[str, Any]], centre: Mapping[str, float], act: str) -> Callable[[Mapping[str, Any]], float]:
    """Minimum 0 at `centre` (each numeric param's place in [0, 1] on the OLD space's scale,
    so a narrowed new space does not move the optimum) with `act` chosen."""
    scales = {p["name"]: p for p in OLD_SPACE} | {"l2": {"name": "l2", **L2}}

    def objective(params: Mapping[str, Any]) -> float:
        total = 0.0 if params["act"] == act else ACT_PENALTY
        for name, c in centre.items():
            d = _unit(scales[name], params[name]) - c
            total += WEIGHTS[name] * d * d + RIPPLE * (1 - math.cos(12 * math.pi * d))
        return total

    return objective


@dataclass(frozen=True)
class Task:
    name: str
    drift: str  # "small" | "large"
    old: Callable[[Mapping[str, Any]], float]
    new: Callable[[Mapping[str, Any]], float]
    new_space: list[dict[str, Any]]


OLD_CENTRE = {"lr": 0.6, "momentum": 0.4, "batch": 0.5}
TASKS = [
    Task(
        "dataset changed",
        "small",
        bowl(OLD_SPACE, OLD_CENTRE, "gelu"),
        bowl(OLD_SPACE, {"lr": 0.65, "momentum": 0.36, "batch": 0.55}, "gelu"),
        OLD_SPACE,
    ),
    Task(
        "objective shifted, space changed",
        "small",
        bowl(OLD_SPACE, OLD_CENTRE, "gelu"),
        bowl(NEW_SPACE, {"lr": 0.56, "momentum": 0.45, "batch": 0.5, "l2": 0.3}, "gelu"),
        NEW_SPACE,
    ),
    Task(
        "optimum moved far",
        "large",
        bowl(OLD_SPACE, OLD_CENTRE, "gelu"),
        bowl(OLD_SPACE, {"lr": 0.15, "momentum": 0.85, "batch": 0.5}, "gelu"),
        OLD_SPACE,
    ),
    Task(
        "optimum moved far, best choice changed",
        "large",
        bowl(OLD_SPACE, OLD_CENTRE, "gelu"),
        bowl(OLD_SPACE, {"lr": 0.2, "momentum": 0.1, "batch": 0.9}, "relu"),
        OLD_SPACE,
    ),
]


class Api:
    """Hone's HTTP API in-process, on a redis-server of its own, driven like one worker."""

    def __init__(self, data_dir: Path) -> None:
        self.redis = EmbeddedRedis(data_dir)
        self.http = create_app({"settings": Settings(redis_url=self.redis.start()), "TESTING": True}).test_client()

    def study(self, name: str, body: dict[str, Any]) -> None:
        self.http.delete(f"/v1/studies/{name}")
        created = self.http.put(f"/v1/studies/{name}", json=body)
        assert created.status_code == 201, created.get_json()

    def run(self, name: str, objective: Callable[[Mapping[str, Any]], float], budget: int) -> list[float]:
        values = []
        for _ in range(budget):
            (trial,) = self.http.post(f"/v1/studies/{name}/trials/ask", json={}).get_json()["trials"]
            value = objective(trial["params"])
            body = {"state": "complete", "value": value}
            assert self.http.post(f"/v1/studies/{name}/trials/{trial['id']}/tell", json=body).status_code == 200
            values.append(value)
        return values

    def stop(self) -> None:
        self.redis.stop()


def trials_to_good(values: list[float]) -> int:
    return next((i + 1 for i, v in enumerate(values) if v <= THRESHOLD), len(values) + 1)


def run_task(api: Api, task: Task, seed: int) -> dict[str, tuple[int, float]]:
    api.study("old", {"space": OLD_SPACE, "seed": seed})
    api.run("old", task.old, OLD_BUDGET)
    out = {}
    for arm, warm in ARMS.items():
        body: dict[str, Any] = {"space": task.new_space, "seed": 1000 + seed}
        if warm is not None:
            body["warm_start"] = {"from": "old", **warm}
        api.study("new", body)
        values = api.run("new", task.new, BUDGET)
        out[arm] = (trials_to_good(values), min(values))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    api = Api(Path(tempfile.mkdtemp(prefix="hone-retune-")))
    rows = []
    try:
        for task in TASKS:
            results = [run_task(api, task, seed) for seed in range(args.seeds)]
            row = [task.name, task.drift]
            for arm in ARMS:
                reach = [r[arm][0] for r in results]
                best = [r[arm][1] for r in results]
                within = sum(n <= BUDGET for n in reach)
                row.append(f"{statistics.median(reach):g} ({within}/{len(reach)})")
                row.append(f"{statistics.median(best):.3f}")
            rows.append(row)
            print(" | ".join(row), flush=True)
    finally:
        api.stop()
    heads = ["task", "drift"] + [f"{arm}: {what}" for arm in ARMS for what in ("trials to good", "best")]
    table = "| " + " | ".join(heads) + " |\n|" + "---|" * len(heads) + "\n"
    table += "".join("| " + " | ".join(row) + " |\n" for row in rows)
    body = (
        f"Medians over {args.seeds} seeds. Old study: {OLD_BUDGET} coarse-to-fine trials on the old objective; "
        f'each arm then runs {BUDGET} trials on the new one. "trials to good": trials until a value '
        f'<= {THRESHOLD} (optimum 0), {BUDGET + 1} when never, with how many seeds got there; "best": the best '
        f"value after {BUDGET}. Arms: a cold start; warm starts from the old study's 3 or 10 best "
        "configurations; and from its 3 best plus configurations drawn inside its final region, as many as make "
        "a quarter of a level 0 grown by them (the default region_share), queued after the top ones. Every "
        "warm-start configuration alternates with a fresh draw, a warm one first, and the rest are dropped once "
        "two of them completed and a fresh draw beat them all.\n\n" + table
    )
    print(record("retune", body))


if __name__ == "__main__":
    main()
