"""Sampler quality: how close each method gets to the optimum on the same budgets, run by hand.

Hone's samplers run through the HTTP API of a real service (gunicorn on a private redis-server),
Optuna's TPE and CMA-ES through its ask/tell interface. Every method sees the same tasks, seeds and
settings: k trials in flight (k = 1 is one worker asking and telling in turn; k = 8 or 32 is the
caviar setting: k trials asked and not yet told, one of them finishing at random, another asked).
A budget counts finished trials. Runs append to JSON files, so cells can be run in pieces, then:

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python -m bench.quality run --tasks synthetic --settings 1,8,32 \
        --seeds 20 --out bench/.work/synthetic.json
    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python -m bench.quality run --tasks real --budget 100 \
        --methods tpe,cmaes,random --out bench/.work/real.json
    .venv/bin/python -m bench.quality report bench/.work/*.json

`report` writes bench/results/quality-<date>.md and a best-so-far PNG per setting; with `--common-seeds`,
each task and setting is ranked on the seeds every method ran there (for runs cut short).
"""

from __future__ import annotations

import os

# One BLAS thread per process: the models are tiny, and threads fighting over 2 cores made them 30x slower.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import numpy as np  # noqa: E402

from service.domain.space import SearchSpace  # noqa: E402
from service.domain.study import Direction  # noqa: E402
from service.samplers.grid import GridSampler  # noqa: E402

from .common import Gunicorn, start_redis  # noqa: E402
from .tasks import SYNTHETIC, TASKS, Task, linear_space  # noqa: E402

HONE_METHODS = ("coarse_to_fine", "random", "random_linear", "grid")
OPTUNA_METHODS = ("tpe", "cmaes")
METHODS = ("coarse_to_fine", "tpe", "cmaes", "random", "random_linear", "grid")  # the report's column order
DEFAULT_METHODS = "coarse_to_fine,tpe,cmaes,random"
BUDGETS = (30, 100, 300, 1000)
SEEDS = 20
RESULTS = Path(__file__).with_name("results")

# ask() -> (handle, params), or None when the method has nothing left to hand out (a finished grid).
Asker = Callable[[], tuple[Any, dict[str, Any]] | None]
Teller = Callable[[Any, float], None]


def budgets(task: Task) -> list[int]:
    return list(BUDGETS) if task.cheap else [b for b in BUDGETS if b <= 300]


def cmaes_applies(task: Task) -> bool:
    """Optuna's CMA-ES models numeric params only; on categoricals or conditions it falls back to random."""
    return all(p["type"] != "categorical" and "condition" not in p for p in task.space)


def grid_points(task: Task, budget: int) -> int:
    """The most points per numeric param whose grid still fits the budget."""
    space = SearchSpace.from_list(task.space)
    n = 1
    while GridSampler(space, {"n": n + 1, "values": {}, "shuffle": True}, 0, Direction.MINIMIZE).size() <= budget:
        n += 1
    return n


def in_flight(task: Task, k: int, budget: int, seed: int, ask: Asker, tell: Teller) -> dict[str, list[float]]:
    """Keep k trials in flight until `budget` have finished, finishing them in a random order.

    Returns the values in the order the trials finished and the wall time of each ask (ms). The
    finishing order depends only on (seed, k), so every method faces the same schedule."""
    order = random.Random(f"{seed}:{k}")
    pending: list[tuple[Any, dict[str, Any]]] = []
    values: list[float] = []
    ask_ms: list[float] = []
    asked = 0
    exhausted = False
    while len(values) < budget:
        while not exhausted and len(pending) < k and asked < budget:
            started = time.perf_counter()
            got = ask()
            ask_ms.append(round((time.perf_counter() - started) * 1000, 3))
            if got is None:
                exhausted = True
                break
            pending.append(got)
            asked += 1
        if not pending:
            break
        handle, params = pending.pop(order.randrange(len(pending)))
        value = task.objective(params)
        tell(handle, value)
        values.append(value)
    return {"values": values, "ask_ms": ask_ms}


class Hone:
    """One study at a time on a real service: gunicorn over its own redis-server, keep-alive HTTP."""

    def __init__(self, data_dir: Path) -> None:
        self.redis = start_redis(data_dir)
        self.service = Gunicorn({"REDIS_URL": self.redis.url}).start()
        parts = urlsplit(self.service.url)
        self.http = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        payload = json.dumps(body) if body is not None else None
        try:
            self.http.request(method, path, payload, {"Content-Type": "application/json"})
            response = self.http.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # gunicorn closes a keep-alive connection idle past its timeout (a slow model trained
            # meanwhile); the request never reached a worker, so sending it again is safe.
            self.http.close()
            self.http.request(method, path, payload, {"Content-Type": "application/json"})
            response = self.http.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None

    def run(self, task: Task, method: str, k: int, budget: int, seed: int) -> dict[str, list[float]]:
        space = linear_space(task.space) if method == "random_linear" else task.space
        sampler: dict[str, Any] = {"name": "random"} if method == "random_linear" else {"name": method}
        if method == "grid":
            sampler = {"name": "grid", "n": grid_points(task, budget), "shuffle": True}
        study = f"/v1/studies/{task.name}-{method}-{k}-{seed}"
        self._call("DELETE", study)
        status, body = self._call("PUT", study, {"space": space, "sampler": sampler, "seed": seed})
        assert status == 201, body

        def ask() -> tuple[Any, dict[str, Any]] | None:
            status, body = self._call("POST", f"{study}/trials/ask", {"worker": "bench"})
            if status == 409:  # a grid smaller than the budget is done
                return None
            assert status == 200, body
            trial = body["trials"][0]
            return trial["id"], trial["params"]

        def tell(trial_id: Any, value: float) -> None:
            status, body = self._call("POST", f"{study}/trials/{trial_id}/tell", {"state": "complete", "value": value})
            assert status == 200, body

        result = in_flight(task, k, budget, seed, ask, tell)
        self._call("DELETE", study)
        return result

    def stop(self) -> None:
        self.http.close()
        self.service.stop()
        self.redis.stop()


def run_optuna(task: Task, method: str, k: int, budget: int, seed: int) -> dict[str, list[float]]:
    """TPE (constant liar on, Optuna 5's default) or CMA-ES through ask/tell, pending trials included;
    an ask's time includes the suggest calls, where Optuna samples independent params."""
    import optuna

    from .tpe import suggest

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = (
        optuna.samplers.TPESampler(seed=seed)
        if method == "tpe"
        else optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    )
    study = optuna.create_study(sampler=sampler)

    def ask() -> tuple[Any, dict[str, Any]]:
        trial = study.ask()
        return trial, suggest(trial, task.space)

    def tell(trial: Any, value: float) -> None:
        study.tell(trial, value)

    return in_flight(task, k, budget, seed, ask, tell)


def select_tasks(names: str) -> list[Task]:
    groups = {"synthetic": SYNTHETIC, "real": [t for t in TASKS if t.real], "all": TASKS}
    by_name = {t.name: t for t in TASKS}
    return [t for name in names.split(",") for t in (groups[name] if name in groups else [by_name[name]])]


def run(args: argparse.Namespace) -> None:
    tasks = select_tasks(args.tasks)
    methods = args.methods.split(",")
    settings = [int(k) for k in args.settings.split(",")]
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = json.loads(out.read_text()) if out.exists() else []
    with tempfile.TemporaryDirectory() as tmp:
        hone = Hone(Path(tmp)) if any(m in HONE_METHODS for m in methods) else None
        try:
            for task in tasks:
                top = min(args.budget or max(budgets(task)), max(budgets(task)))
                for k in settings:
                    for seed in range(args.first_seed, args.first_seed + args.seeds):
                        started = time.perf_counter()
                        for method in methods:
                            if method == "cmaes" and not cmaes_applies(task):
                                continue
                            # A grid is sized to its budget, so each budget is a run of its own.
                            runs = [b for b in budgets(task) if b <= top] if method == "grid" else [top]
                            for budget in runs:
                                if method in OPTUNA_METHODS:
                                    result = run_optuna(task, method, k, budget, seed)
                                else:
                                    assert hone is not None
                                    result = hone.run(task, method, k, budget, seed)
                                rows.append(
                                    {"task": task.name, "method": method, "k": k, "seed": seed, "budget": budget}
                                    | result
                                )
                        out.write_text(json.dumps(rows))
                        print(f"{task.name} k={k} seed {seed}: {time.perf_counter() - started:.1f} s", flush=True)
        finally:
            if hone is not None:
                hone.stop()


# -- report ---------------------------------------------------------------------------------------


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
    return f"`{uname}`; `nproc` {nproc}; CPU {cpu}; Python {platform.python_version()}"


def _pick(rows: list[dict[str, Any]], task: str, method: str, k: int, budget: int) -> list[dict[str, Any]]:
    """Runs of one cell that reached the budget (a grid: its own run sized to that budget)."""
    return [
        r
        for r in rows
        if r["task"] == task
        and r["method"] == method
        and r["k"] == k
        and (r["budget"] == budget if method == "grid" else r["budget"] >= budget and len(r["values"]) >= budget)
    ]


def _ranks(medians: dict[str, float]) -> dict[str, float]:
    """Rank per method, 1 = best median; ties share the mean of the ranks they span."""
    order = sorted(medians, key=medians.__getitem__)
    return {m: float(np.mean([i + 1 for i, o in enumerate(order) if medians[o] == medians[m]])) for m in medians}


def _method(row: dict[str, Any]) -> tuple[str, int]:
    """What a run is a run of: its method, and a grid's budget (a grid is sized to its budget, so
    each budget is a run of its own)."""
    return row["method"], row["budget"] if row["method"] == "grid" else 0


def _unique(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One run per task, method, k and seed (per budget for a grid): the longest, when a cell was
    run twice in pieces (a shorter rerun after an interrupted longer one)."""
    kept: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = (row["task"], row["k"], row["seed"], *_method(row))
        if key not in kept or len(row["values"]) > len(kept[key]["values"]):
            kept[key] = row
    return list(kept.values())


def _common_seeds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the seeds that every method run on a task in a setting ran (`_method`), so each
    cell's medians are over the same seeds."""
    seeds: dict[tuple[Any, ...], dict[tuple[Any, ...], set[int]]] = {}
    for row in rows:
        seeds.setdefault((row["task"], row["k"]), {}).setdefault(_method(row), set()).add(row["seed"])
    common = {cell: set.intersection(*by_method.values()) for cell, by_method in seeds.items()}
    return [row for row in rows if row["seed"] in common[(row["task"], row["k"])]]


def _average_ranks(per_task: list[dict[str, float]]) -> dict[str, float]:
    methods = {m for ranks in per_task for m in ranks}
    return {m: float(np.mean([ranks[m] for ranks in per_task if m in ranks])) for m in methods}


def report(paths: list[Path], name: str | None = None, common_seeds: bool = False) -> None:
    rows = _unique([row for path in paths for row in json.loads(path.read_text())])
    if common_seeds:
        rows = _common_seeds(rows)
    by_name = {t.name: t for t in TASKS}
    task_names = [t.name for t in TASKS if any(r["task"] == t.name for r in rows)]
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    settings = sorted({r["k"] for r in rows})
    # A task without a known optimum measures regret from the best value any run found.
    optimum = {
        name: by_name[name].optimum
        if by_name[name].optimum is not None
        else min(min(r["values"]) for r in rows if r["task"] == name)
        for name in task_names
    }
    today = datetime.date.today().isoformat()
    stem = name or f"quality-{today}"
    lines = [
        f"# Sampler quality, {today}",
        "",
        f"Machine: `vm`: {_machine()}, 24 GiB; shared with other jobs, run under `nice -n 19`.",
        "",
        "Produced by `bench/quality.py`. Hone's samplers run through the HTTP API of a real service (gunicorn, "
        "redis-server); Optuna 5's `TPESampler(seed=s)` (constant liar on by default) and "
        "`CmaEsSampler(seed=s)` run through ask/tell. k = trials in flight: k = 1 is one worker asking and telling "
        "in turn; with k > 1, k trials are asked and not yet told, one finishes at random (the same order for every "
        "method) and another is asked. A budget counts finished trials. Regret = best value within the budget "
        "minus the optimum (tasks without a known optimum: minus the best value any run found). Each cell: median "
        "regret [25th-75th percentile] (n = seeds); bold marks the best median; `-` = not run (CMA-ES only runs "
        "on spaces without categorical or conditional params). Rank: per task among the methods run on it.",
        "",
    ]
    # The references printed, so a later run can be compared with these medians without their raw runs.
    unknown = [name for name in task_names if by_name[name].optimum is None]
    if unknown:
        lines += ["Best value any run found (the reference of regret): "
                  + ", ".join(f"{name} {optimum[name]!r}" for name in unknown) + ".", ""]  # fmt: skip
    summary = [
        "## Summary: coarse_to_fine against TPE and CMA-ES",
        "",
        "| k | budget | tasks | n | c2f rank | tpe rank | cmaes rank | c2f better than tpe | c2f better than cmaes |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for k in settings:
        lines += [f"## k = {k} in flight", ""]
        for budget in BUDGETS:
            cells = {
                name: {m: _pick(rows, name, m, k, budget) for m in methods}
                for name in task_names
                if budget in budgets(by_name[name])
            }
            cells = {n: {m: v for m, v in c.items() if v} for n, c in cells.items()}
            cells = {n: c for n, c in cells.items() if "coarse_to_fine" in c and len(c) > 1}
            if not cells:
                continue
            lines += [f"### Budget {budget}", "", "| task | " + " | ".join(methods) + " |",
                      "|---" * (len(methods) + 1) + "|"]  # fmt: skip
            # Per task: its group, its ranks, and whether coarse_to_fine's median beat each rival's.
            judged: list[tuple[str, dict[str, float], dict[str, bool]]] = []
            for name, cell in cells.items():
                finals = {m: [min(r["values"][:budget]) - optimum[name] for r in runs] for m, runs in cell.items()}
                medians = {m: float(np.median(v)) for m, v in finals.items()}
                best = min(medians.values())
                row = []
                for method in methods:
                    if method not in finals:
                        row.append("-")
                        continue
                    q1, q3 = np.percentile(finals[method], [25, 75])
                    text = f"{medians[method]:.3g} [{q1:.3g}-{q3:.3g}] (n={len(finals[method])})"
                    row.append(f"**{text}**" if medians[method] == best else text)
                lines.append(f"| {name} | " + " | ".join(row) + " |")
                wins: dict[str, bool] = {
                    r: medians["coarse_to_fine"] < medians[r] for r in ("tpe", "cmaes") if r in medians
                }
                judged.append(("real" if by_name[name].real else "synthetic", _ranks(medians), wins))
            average = _average_ranks([ranks for _, ranks, _ in judged])
            ranked = sorted(average, key=average.__getitem__)
            lines += ["", "Average rank: " + ", ".join(f"{m} {average[m]:.2f}" for m in ranked), ""]
            for group in ("all", "synthetic", "real"):
                chosen = [(ranks, wins) for g, ranks, wins in judged if group in ("all", g)]
                if not chosen or (group != "all" and len(chosen) == len(judged)):
                    continue
                average = _average_ranks([ranks for ranks, _ in chosen])
                tallies = [[w[r] for _, w in chosen if r in w] for r in ("tpe", "cmaes")]
                summary.append(
                    f"| {k} | {budget} | {group} | {len(chosen)} | "
                    + " | ".join(
                        f"{average[m]:.2f}" if m in average else "-" for m in ("coarse_to_fine", "tpe", "cmaes")
                    )
                    + " | "
                    + " | ".join(f"{sum(t)} of {len(t)}" if t else "-" for t in tallies)
                    + " |"
                )
        lines += _ask_times(rows, k, methods)
        _plot(rows, k, task_names, methods, optimum, today, stem)
        lines += [f"![best-so-far curves, k = {k}]({stem}-k{k}.png)", ""]
    RESULTS.mkdir(exist_ok=True)
    body = lines[:4] + summary + [""] + lines[4:]
    (RESULTS / f"{stem}.md").write_text("\n".join(body))
    print("\n".join(summary))
    print(f"wrote {RESULTS}/{stem}.md")


def _ask_times(rows: list[dict[str, Any]], k: int, methods: list[str]) -> list[str]:
    """Median wall time per ask, over all asks and over the last tenth of each run (history at its longest)."""
    lines = ["Wall time per ask (ms, median over runs of each run's median): all asks / the last tenth of the run", "",
             "| budget | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]  # fmt: skip
    for budget in BUDGETS:
        cells = []
        for method in methods:
            runs = [r for r in rows if r["k"] == k and r["method"] == method and r["budget"] == budget and r["ask_ms"]]
            if not runs:
                cells.append("-")
                continue
            whole = np.median([np.median(r["ask_ms"]) for r in runs])
            late = np.median([np.median(r["ask_ms"][-max(1, len(r["ask_ms"]) // 10) :]) for r in runs])
            cells.append(f"{whole:.2f} / {late:.2f}")
        if any(c != "-" for c in cells):
            lines.append(f"| {budget} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _linear_below(medians: list[np.ndarray]) -> float:
    """Where a task's symlog regret axis turns linear: at its smallest positive median regret, so a
    late run's convergence (regret of 1e-6 and less on the cheap tasks) shows in decades instead of
    lying flat on the axis's zero; 1e-3 when no median is positive."""
    positive = [float(m[m > 0].min()) for m in medians if (m > 0).any()]
    return min(positive) if positive else 1e-3


def _plot(
    rows: list[dict[str, Any]],
    k: int,
    task_names: list[str],
    methods: list[str],
    optimum: dict[str, float],
    today: str,
    stem: str,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in task_names if any(r["task"] == n and r["k"] == k for r in rows)]
    lines = min(2, len(names))
    columns = -(-len(names) // lines)
    # At least 6.4 inches wide: the title of a one-task figure fits.
    fig, axes = plt.subplots(lines, columns, figsize=(max(4.2 * columns, 6.4), 3.75 * lines), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        medians = []
        for method in methods:
            pick = [r for r in rows if r["task"] == name and r["method"] == method and r["k"] == k and r["values"]]
            if method == "grid" and pick:
                pick = [r for r in pick if r["budget"] == max(p["budget"] for p in pick)]
            if not pick:
                continue
            length = min(len(r["values"]) for r in pick)
            curves = np.array([np.minimum.accumulate(r["values"][:length]) for r in pick]) - optimum[name]
            # A colour per method, so a method missing on one task does not shift the others'.
            colour = f"C{METHODS.index(method)}"
            medians.append(np.median(curves, axis=0))
            ax.plot(np.arange(1, length + 1), medians[-1], label=method, color=colour)
        ax.set_title(name)
        ax.set_yscale("symlog", linthresh=_linear_below(medians))
        ax.set_xscale("log")
        ax.set_xlabel("trials finished")
        ax.set_ylabel("median regret")
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    # The legend names only the methods run in this setting.
    shown = [m for m in methods if any(r["method"] == m and r["k"] == k for r in rows)]
    handles = [matplotlib.lines.Line2D([], [], color=f"C{METHODS.index(m)}", label=m) for m in shown]
    axes.flat[0].legend(handles=handles, fontsize=8)
    fig.suptitle(f"Best-so-far median regret, k = {k} in flight ({today})")
    fig.tight_layout()
    fig.savefig(RESULTS / f"{stem}-k{k}.png", dpi=80)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run")
    run_parser.add_argument("--tasks", default="synthetic", help="task names or groups (synthetic, real, all)")
    run_parser.add_argument("--methods", default=DEFAULT_METHODS, help=f"any of {', '.join(METHODS)}")
    run_parser.add_argument("--settings", default="1,8,32", help="trials in flight, one run per value")
    run_parser.add_argument("--budget", type=int, default=0, help="largest budget (default: the task's own)")
    run_parser.add_argument("--seeds", type=int, default=SEEDS)
    run_parser.add_argument("--first-seed", type=int, default=0)
    run_parser.add_argument("--out", type=Path, required=True, help="JSON file the runs are appended to")
    report_parser = commands.add_parser("report")
    report_parser.add_argument("raw", type=Path, nargs="+")
    report_parser.add_argument(
        "--name", help="file name of the report, without .md (default: quality-<date>); its plots take it too"
    )
    report_parser.add_argument(
        "--common-seeds",
        action="store_true",
        help="rank each task and setting on the seeds every method ran there (runs cut short leave fewer)",
    )
    args = parser.parse_args()
    if args.command == "run":
        run(args)
    else:
        report(args.raw, args.name, args.common_seeds)


if __name__ == "__main__":
    main()
