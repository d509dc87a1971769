"""bench/quality.py's report ranks medians; with --common-seeds, each over the same seeds."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.quality import _common_seeds, _linear_below


def _run(task: str, method: str, k: int, seed: int, budget: int = 100) -> dict[str, Any]:
    return {"task": task, "method": method, "k": k, "seed": seed, "budget": budget, "values": [1.0]}


def test_common_seeds_keeps_the_seeds_every_method_of_a_cell_ran() -> None:
    rows = [
        *(_run("a", "coarse_to_fine", 8, s) for s in range(5)),
        *(_run("a", "tpe", 8, s) for s in range(4)),  # cut short: seed 4 missing
        *(_run("a", "coarse_to_fine", 1, s) for s in range(3)),  # another setting keeps its own
        *(_run("a", "tpe", 1, s) for s in (0, 2)),
        *(_run("b", "coarse_to_fine", 8, s) for s in range(2)),  # a task run by one method keeps all
        *(_run("a", "grid", 32, s, budget=30) for s in (0, 1)),  # a grid's run per budget is a method of its own
        _run("a", "grid", 32, 1, budget=100),
    ]
    kept = {(r["task"], r["method"], r["k"], r["seed"], r["budget"]) for r in _common_seeds(rows)}
    assert kept == (
        {("a", method, 8, seed, 100) for method in ("coarse_to_fine", "tpe") for seed in range(4)}
        | {("a", method, 1, seed, 100) for method in ("coarse_to_fine", "tpe") for seed in (0, 2)}
        | {("b", "coarse_to_fine", 8, 0, 100), ("b", "coarse_to_fine", 8, 1, 100)}
        | {("a", "grid", 32, 1, 30), ("a", "grid", 32, 1, 100)}
    )


def test_the_regret_axis_turns_linear_at_the_smallest_positive_median() -> None:
    medians = [np.array([0.5, 2e-4, 3e-7, 0.0]), np.array([0.4, 1e-5, 1e-5])]
    assert _linear_below(medians) == 3e-7
    # Every median at zero (each run found the reference): the axis keeps a threshold of its own.
    assert _linear_below([np.zeros(3)]) == 1e-3
