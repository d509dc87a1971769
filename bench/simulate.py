"""A fast in-memory stand-in for the service's level protocol, for developing samplers by hand.

It calls a sampler directly (no Redis, no HTTP), one trial at a time, the way ask.lua, advance.lua
and tell.lua would. Recorded results come from quality.py, through the API.

    .venv/bin/python -m bench.simulate --sampler coarse_to_fine --budget 100 --seeds 10
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from service.domain.study import StudySpec
from service.samplers import Draw, SamplerState, Scored, make_sampler, normalize_sampler

from .tasks import SYNTHETIC, Task


def run(task: Task, sampler_spec: dict[str, Any], budget: int, seed: int) -> list[float]:
    """Best-so-far values of one sequential run."""
    spec = StudySpec.from_dict({"space": task.space, "sampler": normalize_sampler(sampler_spec)})
    sampler = make_sampler(spec, seed)
    state = SamplerState(data=sampler.initial_state())
    asked: dict[int, int] = {}
    done: dict[int, int] = {}
    finished: list[Scored] = []
    curve: list[float] = []
    for number in range(budget):
        level = state.level
        asked[level] = asked.get(level, 0) + 1

        def top(k: int) -> list[Scored]:
            return sorted(finished, key=lambda s: s.value)[:k]

        move = sampler.advance(state, asked[level], done.get(level, 0), top)
        params = sampler.suggest(Draw(number, number), state)
        if move is not None:
            state = SamplerState(level + 1, state.version + 1, number + 1, move.data)
        value = task.objective(params)
        finished.append(Scored(spec.space.encode(params), value))
        done[level] = done.get(level, 0) + 1
        curve.append(min(value, curve[-1]) if curve else value)
    return curve


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sampler", default="coarse_to_fine")
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--options", default="{}", help="sampler options as JSON")
    args = parser.parse_args()
    for task in SYNTHETIC:
        if args.sampler == "tpe":
            from .tpe import run_tpe

            finals = [min(run_tpe(task, args.budget, seed)) for seed in range(args.seeds)]
        else:
            finals = [
                run(task, {"name": args.sampler, **json.loads(args.options)}, args.budget, seed)[-1]
                for seed in range(args.seeds)
            ]
        optimum = task.optimum if task.optimum is not None else 0.0
        print(f"{task.name:18s} median regret {statistics.median(finals) - optimum:10.4f}")


if __name__ == "__main__":
    main()
