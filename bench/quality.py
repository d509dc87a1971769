"""Sampler quality: how close each method gets to the optimum on the same budgets, run by hand.

Hone's samplers run through the HTTP API (the Flask app in-process, on a private redis-server),
with the same ask/tell loop a worker would use; Optuna's TPE runs its own loop. Every method sees
the same tasks, budgets and seeds. Run the cheap and the costly tasks side by side, then report:

    OMP_NUM_THREADS=1 nice .venv/bin/python -m bench.quality run --tasks synthetic --out bench/.work/synthetic.json
    OMP_NUM_THREADS=1 nice .venv/bin/python -m bench.quality run --tasks mlp-digits --out bench/.work/mlp.json
    .venv/bin/python -m bench.quality report bench/.work/synthetic.json bench/.work/mlp.json

`report` writes bench/results/quality-<date>.md and .png, with the machine it ran on.
"""

from __future__ import annotations

import os

# One BLAS thread per process: the MLP task is tiny, and threads fighting over 2 cores made it 30x slower.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from service.app import create_app  # noqa: E402
from service.config import Settings  # noqa: E402
from service.domain.space import SearchSpace  # noqa: E402
from service.domain.study import Direction  # noqa: E402
from service.embedded_redis import EmbeddedRedis  # noqa: E402
from service.samplers.grid import GridSampler  # noqa: E402

from .tasks import TASKS, Task, linear_space  # noqa: E402

METHODS = ("coarse_to_fine", "tpe", "random", "random_linear", "grid")
SEEDS = 10
RESULTS = Path(__file__).with_name("results")


def budgets(task: Task) -> list[int]:
    return [30, 100, 300] if task.cheap else [30, 100]


def grid_points(task: Task, budget: int) -> int:
    """The most points per numeric param whose grid still fits the budget."""
    space = SearchSpace.from_list(task.space)
    n = 1
    while GridSampler(space, {"n": n + 1, "values": {}, "shuffle": True}, 0, Direction.MINIMIZE).size() <= budget:
        n += 1
    return n


class Api:
    """Hone's HTTP API, in-process, on a redis-server of its own."""

    def __init__(self, data_dir: Path) -> None:
        self.redis = EmbeddedRedis(data_dir)
        app = create_app({"settings": Settings(redis_url=self.redis.start()), "TESTING": True})
        self.http = app.test_client()

    def run(
        self, task: Task, space: list[dict[str, Any]], sampler: dict[str, Any], budget: int, seed: int
    ) -> list[float]:
        """Values of up to `budget` trials, asked and told one at a time like a single worker."""
        name = "bench"
        self.http.delete(f"/v1/studies/{name}")
        created = self.http.put(f"/v1/studies/{name}", json={"space": space, "sampler": sampler, "seed": seed})
        assert created.status_code == 201, created.get_json()
        values = []
        for _ in range(budget):
            response = self.http.post(f"/v1/studies/{name}/trials/ask", json={"worker": "bench"})
            if response.status_code == 409:  # a grid smaller than the budget is done
                break
            trial = response.get_json()["trials"][0]
            value = task.objective(trial["params"])
            told = self.http.post(
                f"/v1/studies/{name}/trials/{trial['id']}/tell", json={"state": "complete", "value": value}
            )
            assert told.status_code == 200, told.get_json()
            values.append(value)
        return values

    def stop(self) -> None:
        self.redis.stop()


def run(task_filter: str, out: Path, seeds: int) -> None:
    from .tpe import run_tpe

    tasks = [t for t in TASKS if (t.cheap if task_filter == "synthetic" else t.name == task_filter)]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        api = Api(Path(tmp))
        try:
            for task in tasks:
                top = max(budgets(task))
                for seed in range(seeds):
                    started = time.perf_counter()
                    runs = {
                        "coarse_to_fine": api.run(task, task.space, {"name": "coarse_to_fine"}, top, seed),
                        "random": api.run(task, task.space, {"name": "random"}, top, seed),
                        "random_linear": api.run(task, linear_space(task.space), {"name": "random"}, top, seed),
                        "tpe": run_tpe(task, top, seed),
                    }
                    for method, values in runs.items():
                        results.append(
                            {"task": task.name, "method": method, "seed": seed, "budget": top, "values": values}
                        )
                    for budget in budgets(task):
                        sampler = {"name": "grid", "n": grid_points(task, budget), "shuffle": True}
                        values = api.run(task, task.space, sampler, budget, seed)
                        results.append(
                            {"task": task.name, "method": "grid", "seed": seed, "budget": budget, "values": values}
                        )
                    print(f"{task.name} seed {seed}: {time.perf_counter() - started:.1f} s", flush=True)
        finally:
            api.stop()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results))


# -- report ---------------------------------------------------------------------------------------


def _final(row: dict[str, Any], budget: int) -> float:
    return min(row["values"][:budget])


def _machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    uname = subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip()
    # nproc honours OMP_NUM_THREADS, which this module sets to 1; ask it without.
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, env=env).stdout.strip()
    return f"`{uname}`; `nproc` {nproc}; CPU {cpu}"


def report(paths: list[Path]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for path in paths for row in json.loads(path.read_text())]
    task_names = [t.name for t in TASKS if any(r["task"] == t.name for r in rows)]
    by_name = {t.name: t for t in TASKS}
    # A task without a known optimum measures regret from the best value any run found.
    optimum = {
        name: by_name[name].optimum
        if by_name[name].optimum is not None
        else min(min(r["values"]) for r in rows if r["task"] == name)
        for name in task_names
    }
    today = datetime.date.today().isoformat()
    seeds = len({r["seed"] for r in rows})
    lines = [
        f"# Sampler quality, {today}",
        "",
        f"Machine: {_machine()}.",
        "",
        f"Produced by `bench/quality.py` ({seeds} seeds per task and method; Hone's samplers through the HTTP API, "
        "one worker asking and telling in turn; TPE is Optuna's `TPESampler(seed=s)` with default settings). "
        "Regret = best value found within the budget minus the optimum (for `mlp-digits` and `branin-mixed-5d`, minus "
        "the best value any run found). Each cell: median regret [25th-75th percentile]; bold marks the best median. "
        "`grid` runs with the most points per param that fit the budget (shuffled); on the MLP that is one value per "
        "numeric param, so it can only pick among the categorical choices.",
        "",
    ]
    ranks: dict[int, dict[str, list[float]]] = {}
    wins_vs_random: dict[int, list[bool]] = {}
    for budget in (30, 100, 300):
        names = [n for n in task_names if budget in budgets(by_name[n])]
        if not names:
            continue
        lines += [
            f"## Budget {budget}",
            "",
            "| task | " + " | ".join(METHODS) + " |",
            "|---" * (len(METHODS) + 1) + "|",
        ]
        ranks[budget] = {m: [] for m in METHODS}
        wins_vs_random[budget] = []
        for name in names:
            finals: dict[str, list[float]] = {}
            for method in METHODS:
                pick = [r for r in rows if r["task"] == name and r["method"] == method]
                if method == "grid":
                    pick = [r for r in pick if r["budget"] == budget]
                finals[method] = [_final(r, budget) - optimum[name] for r in pick]
            medians = {m: float(np.median(v)) for m, v in finals.items()}
            best = min(medians.values())
            cells = []
            for method in METHODS:
                q1, q3 = np.percentile(finals[method], [25, 75])
                cell = f"{medians[method]:.3g} [{q1:.3g}-{q3:.3g}]"
                cells.append(f"**{cell}**" if medians[method] == best else cell)
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
            order = sorted(METHODS, key=lambda m: medians[m])
            for method in METHODS:
                # Ties share the mean of the ranks they span.
                tied = [i + 1 for i, m in enumerate(order) if medians[m] == medians[method]]
                ranks[budget][method].append(float(np.mean(tied)))
            wins_vs_random[budget].append(medians["coarse_to_fine"] < medians["random"])
        lines += [
            "",
            "Average rank (1 = best median regret): "
            + ", ".join(
                f"{m} {np.mean(ranks[budget][m]):.2f}" for m in sorted(METHODS, key=lambda m: np.mean(ranks[budget][m]))
            ),
            "",
            f"coarse_to_fine beats right-scale random on median regret on {sum(wins_vs_random[budget])} of "
            f"{len(wins_vs_random[budget])} tasks.",
            "",
        ]
    stem = f"quality-{today}"
    lines += [f"![best-so-far curves]({stem}.png)", ""]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.md").write_text("\n".join(lines))

    fig, axes = plt.subplots(2, (len(task_names) + 1) // 2, figsize=(4.2 * ((len(task_names) + 1) // 2), 7.5))
    for ax, name in zip(axes.flat, task_names, strict=False):
        for method in METHODS:
            pick = [r for r in rows if r["task"] == name and r["method"] == method]
            if method == "grid":
                # The largest grid's run, for its curve.
                pick = [r for r in pick if r["budget"] == max(budgets(by_name[name]))]
            length = min(len(r["values"]) for r in pick)
            curves = np.array([np.minimum.accumulate(r["values"][:length]) for r in pick]) - optimum[name]
            ax.plot(np.arange(1, length + 1), np.median(curves, axis=0), label=method)
        ax.set_title(name)
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_xscale("log")
        ax.set_xlabel("trials")
        ax.set_ylabel("median regret")
    for ax in list(axes.flat)[len(task_names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"Best-so-far median regret over {seeds} seeds ({today})")
    fig.tight_layout()
    fig.savefig(RESULTS / f"{stem}.png", dpi=90)
    print(f"wrote {RESULTS / stem}.md and .png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run")
    run_parser.add_argument("--tasks", default="synthetic", help="'synthetic' or one task's name")
    run_parser.add_argument("--out", type=Path, required=True)
    run_parser.add_argument("--seeds", type=int, default=SEEDS)
    report_parser = commands.add_parser("report")
    report_parser.add_argument("raw", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "run":
        run(args.tasks, args.out, args.seeds)
    else:
        report(args.raw)


if __name__ == "__main__":
    main()
