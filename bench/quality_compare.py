"""Two revisions of coarse_to_fine side by side, with the baselines' recorded medians, run by hand.

`bench/quality.py run --methods coarse_to_fine` is run once from each revision's tree (its values
are deterministic from the seeds, so load on the machine does not bias them); this prints, per
k and budget, each task's median regret for both and TPE's from a recorded report, the average
rank of the three by median (on the seeds TPE was recorded with) and how often the new revision's
median beats the old one's over all seeds:

    .venv/bin/python -m bench.quality_compare before.json after.json \
        --tpe bench/results/quality-2026-12-01.md --tpe-seeds 5

With `--recorded REPORT` and only the new revision's runs, the old revision's medians and every
baseline's (TPE, CMA-ES, random) are read from that report instead, each over the seeds it was
recorded on, and the table ranks the new revision among the recorded methods. A task without a known
optimum is ranked when the report prints the reference its regret was measured from (reports since
quality-2026-12-02c do); the new runs' regret is then measured from that reference too, and is
negative where a run beat every recorded one:

    .venv/bin/python -m bench.quality_compare after.json --recorded bench/results/quality-2026-12-02b.md
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from .quality import BUDGETS, _pick, _ranks, _unique
from .tasks import TASKS


def recorded(path: Path) -> dict[tuple[int, int, str], dict[str, float]]:
    """Every method's median regret per (k, budget, task) from a report quality.py wrote."""
    medians: dict[tuple[int, int, str], dict[str, float]] = {}
    k = budget = 0
    columns: list[str] | None = None
    for line in path.read_text().splitlines():
        if not line.startswith("|"):
            columns = None  # a task table ends at its first line that is not a row
        if found := re.match(r"## k = (\d+) in flight", line):
            k = int(found[1])
        elif found := re.match(r"### Budget (\d+)", line):
            budget = int(found[1])
        elif line.startswith("#"):
            k = budget = 0  # another section (a comparison's tables, say): not this report's medians
        elif line.startswith("| task |"):
            columns = [c.strip() for c in line.strip("|").split("|")]
        elif line.startswith("| ") and columns is not None and k and budget and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            medians[(k, budget, cells[0])] = {
                method: float(cell.strip("*").split()[0])
                for method, cell in zip(columns[1:], cells[1:], strict=True)
                if cell != "-"
            }
    return medians


def references(path: Path) -> dict[str, float]:
    """The reference of regret per task without a known optimum, where the report prints it."""
    found = re.search(r"^Best value any run found \(the reference of regret\): (.*)\.$", path.read_text(), re.M)
    if found is None:
        return {}
    return {name: float(value) for name, value in (pair.split(" ") for pair in found[1].split(", "))}


def recorded_tpe(path: Path) -> dict[tuple[int, int, str], float]:
    """TPE's median regret per (k, budget, task) from a report quality.py wrote."""
    return {cell: methods["tpe"] for cell, methods in recorded(path).items() if "tpe" in methods}


def against_recorded(after: list[dict[str, Any]], report: Path) -> None:
    """The new revision's median regret beside every method's recorded one, and its rank among
    the recorded baselines (the old revision not counted), on the tasks with a known optimum or a
    printed reference."""
    medians = recorded(report)
    reference = {t.name: t.optimum for t in TASKS if t.optimum is not None} | references(report)
    names = [t.name for t in TASKS if t.name in reference and any(r["task"] == t.name for r in after)]
    for k in sorted({r["k"] for r in after}):
        for budget in BUDGETS:
            cells = {
                name: rows
                for name in names
                if (rows := _pick(after, name, "coarse_to_fine", k, budget)) and (k, budget, name) in medians
            }
            if not cells:
                continue
            baselines = sorted({m for name in cells for m in medians[(k, budget, name)]} - {"coarse_to_fine"})
            print(f"\n### k = {k}, budget {budget}\n")
            print("| task | coarse_to_fine before (recorded) | after | " + " | ".join(baselines) + " | n after |")
            print("|---" + "|---:" * (len(baselines) + 3) + "|")
            ranks, wins = [], 0
            for name, rows in cells.items():
                old = medians[(k, budget, name)]
                new = float(np.median(regret(rows, budget, reference[name])))
                rivals = {m: v for m, v in old.items() if m != "coarse_to_fine"}
                ranks.append(_ranks({"after": new, **rivals}))
                wins += "tpe" in rivals and new < rivals["tpe"]
                shown = " | ".join(f"{rivals[m]:.3g}" if m in rivals else "-" for m in baselines)
                print(f"| {name} | {old.get('coarse_to_fine', float('nan')):.3g} | {new:.3g} | {shown} | {len(rows)} |")
            methods = ["after", *baselines]
            average = {m: float(np.mean([r[m] for r in ranks if m in r])) for m in methods}
            print(
                f"\nAverage rank over {len(cells)} tasks: "
                + ", ".join(f"{m} {v:.2f}" for m, v in sorted(average.items(), key=lambda item: item[1]))
                + f"; after's median better than TPE's on {wins} of {len(cells)}"
            )


def regret(rows: list[dict[str, Any]], budget: int, optimum: float) -> list[float]:
    return [min(r["values"][:budget]) - optimum for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="before.json after.json, or after.json with --recorded")
    parser.add_argument("--tpe", type=Path, help="a report of quality.py with TPE's medians")
    parser.add_argument("--tpe-seeds", type=int, default=5, help="seeds 0..n-1 TPE's report was run on")
    parser.add_argument("--recorded", type=Path, help="a report of quality.py to read every method's medians from")
    args = parser.parse_args()
    if args.recorded is not None:
        (after,) = args.runs
        against_recorded(_unique(json.loads(after.read_text())), args.recorded)
        return
    if len(args.runs) != 2 or args.tpe is None:
        parser.error("without --recorded: before.json after.json --tpe REPORT")
    args.before, args.after = args.runs
    runs = {
        label: _unique(json.loads(path.read_text())) for label, path in (("before", args.before), ("after", args.after))
    }
    tpe = recorded_tpe(args.tpe)
    by_name = {t.name: t for t in TASKS}
    names = [t.name for t in TASKS if any(r["task"] == t.name for r in runs["after"])]
    for k in sorted({r["k"] for r in runs["after"]}):
        for budget in BUDGETS:
            cells = {
                name: {label: _pick(rows, name, "coarse_to_fine", k, budget) for label, rows in runs.items()}
                for name in names
            }
            cells = {n: c for n, c in cells.items() if all(c.values())}
            if not cells:
                continue
            print(f"\n### k = {k}, budget {budget}\n")
            print("| task | before (main) | after (basins) | tpe (recorded) | n |")
            print("|---|---:|---:|---:|---:|")
            ranks, wins, losses = [], 0, 0
            for name, cell in cells.items():
                # Without a known optimum: the best value either revision found (TPE's recorded regret
                # was measured from another reference, so such a task is left out of the ranks).
                known = by_name[name].optimum
                optimum = known if known is not None else min(min(r["values"]) for rows in cell.values() for r in rows)
                medians = {label: float(np.median(regret(rows, budget, optimum))) for label, rows in cell.items()}
                wins += medians["after"] < medians["before"]
                losses += medians["after"] > medians["before"]
                # The three-way rank on TPE's seeds only, so each median is over the same seeds.
                same = {
                    label: float(np.median(regret([r for r in rows if r["seed"] < args.tpe_seeds], budget, optimum)))
                    for label, rows in cell.items()
                }
                if (k, budget, name) in tpe and known is not None:
                    ranks.append(_ranks({**same, "tpe": tpe[(k, budget, name)]}))
                n = min(len(rows) for rows in cell.values())
                print(
                    f"| {name} | {medians['before']:.3g} | {medians['after']:.3g} | "
                    f"{tpe[(k, budget, name)] if known is not None else float('nan'):.3g} | {n} |"
                )
            average = {m: float(np.mean([r[m] for r in ranks])) for m in ("before", "after", "tpe")}
            print(
                f"\nAfter's median better than before's on {wins} of {len(cells)} tasks, worse on {losses} "
                f"(all seeds). Average rank by median on seeds 0-{args.tpe_seeds - 1}: "
                + ", ".join(f"{m} {v:.2f}" for m, v in sorted(average.items(), key=lambda item: item[1]))
            )


if __name__ == "__main__":
    main()
