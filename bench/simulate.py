"""A fast in-memory stand-in for the service's level protocol, for developing samplers by hand.

It calls a sampler directly (no Redis, no HTTP) the way ask.lua, advance.lua and tell.lua would,
with k trials in flight finishing in the same random order quality.py uses. Recorded results come
from quality.py, through the API; `--baseline` prints the medians of a quality.py run beside.

    .venv/bin/python -m bench.simulate --sampler coarse_to_fine --budgets 30,100,300 --k 8 --seeds 10 \
        --baseline bench/.work/baselines.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from pathlib import Path
from typing import Any

from service.domain.study import StudySpec
from service.samplers import Draw, LevelProgress, Ranking, SamplerState, Scored, make_sampler, normalize_sampler

from .quality import select_tasks
from .tasks import Task


def run(task: Task, sampler_spec: dict[str, Any], budget: int, seed: int, k: int = 1) -> list[float]:
    """Best-so-far values, in the order trials finished, of one run with k trials in flight."""
    spec = StudySpec.from_dict({"space": task.space, "sampler": normalize_sampler(sampler_spec)})
    sampler = make_sampler(spec, seed)
    state = SamplerState(data=sampler.initial_state())
    order = random.Random(f"{seed}:{k}")
    asked: dict[int, int] = {}
    done: dict[int, int] = {}
    pending: list[tuple[int, dict[str, Any]]] = []
    finished: list[Scored] = []
    curve: list[float] = []

    def top(n: int, _: Ranking) -> list[Scored]:
        return sorted(finished, key=lambda s: s.value)[:n]

    number = 0
    while len(curve) < budget:
        while len(pending) < k and number < budget:
            level = state.level
            asked[level] = asked.get(level, 0) + 1
            move = sampler.advance(state, LevelProgress(asked[level], done.get(level, 0)), top)
            # The ask that moves the study is itself filled from the level it was counted at.
            pending.append((level, sampler.suggest(Draw(number, number), state)))
            if move is not None:
                state = SamplerState(level + 1, state.version + 1, number + 1, move.data)
            number += 1
        level, params = pending.pop(order.randrange(len(pending)))
        value = task.objective(params)
        finished.append(Scored(spec.space.encode(params), value))
        done[level] = done.get(level, 0) + 1
        curve.append(min(value, curve[-1]) if curve else value)
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sampler", default="coarse_to_fine")
    parser.add_argument("--tasks", default="synthetic", help="task names or groups, as quality.py takes them")
    parser.add_argument("--budgets", default="30,100,300")
    parser.add_argument("--k", type=int, default=1, help="trials in flight")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run are first-seed, first-seed + 1, ...")
    parser.add_argument("--options", default="{}", help="sampler options as JSON")
    parser.add_argument("--baseline", type=Path, nargs="*", default=[], help="quality.py JSON to compare with")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    baseline = [row for path in args.baseline for row in json.loads(path.read_text())]
    spec = {"name": args.sampler, **json.loads(args.options)}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for task in select_tasks(args.tasks):
        curves = [run(task, spec, max(budgets), seed, args.k) for seed in seeds]
        optimum = task.optimum if task.optimum is not None else 0.0
        cells = []
        for budget in budgets:
            cell = f"{statistics.median(c[budget - 1] for c in curves) - optimum:9.4g}"
            for method in sorted({r["method"] for r in baseline}):
                finals = [
                    min(r["values"][:budget])
                    for r in baseline
                    if (r["task"], r["method"], r["k"]) == (task.name, method, args.k)
                    and r["seed"] in seeds
                    and len(r["values"]) >= budget
                ]
                if finals:
                    cell += f" {method} {statistics.median(finals) - optimum:.4g}"
            cells.append(f"@{budget}: {cell}")
        print(f"{task.name:18s} " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
