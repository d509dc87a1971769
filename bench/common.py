"""Shared by the benchmarks: servers to measure against, the workload, and how results are written."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import Gunicorn, start_redis  # noqa: E402

# The notes' priority list, six params on their proper scales.
SPACE = [
    {"name": "lr", "type": "float", "low": 1e-5, "high": 1, "scale": "log"},
    {"name": "beta", "type": "float", "low": 0.9, "high": 0.9999, "scale": "reverse_log"},
    {"name": "batch", "type": "int", "low": 16, "high": 512, "scale": "log"},
    {"name": "units", "type": "int", "low": 32, "high": 1024},
    {"name": "l2", "type": "float", "low": 1e-6, "high": 1e-2, "scale": "log"},
    {"name": "activation", "type": "categorical", "choices": ["relu", "tanh", "gelu"]},
]


def objective(params: dict) -> float:
    return (params["lr"] - 0.01) ** 2 + (1 - params["beta"]) + params["l2"]


def optuna_params(trial: object) -> dict:
    """The same space through Optuna's define-by-run API (1 - beta on a log scale)."""
    return {
        "lr": trial.suggest_float("lr", 1e-5, 1, log=True),  # type: ignore[attr-defined]
        "beta": 1 - trial.suggest_float("one_minus_beta", 1e-4, 0.1, log=True),  # type: ignore[attr-defined]
        "batch": trial.suggest_int("batch", 16, 512, log=True),  # type: ignore[attr-defined]
        "units": trial.suggest_int("units", 32, 1024),  # type: ignore[attr-defined]
        "l2": trial.suggest_float("l2", 1e-6, 1e-2, log=True),  # type: ignore[attr-defined]
        "activation": trial.suggest_categorical("activation", ["relu", "tanh", "gelu"]),  # type: ignore[attr-defined]
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.node()}: {os.cpu_count()} cores, {cpu}, {platform.platform()}, Python {platform.python_version()}"
    )


def git_revision() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()


def record(name: str, body: str) -> Path:
    """Write a result file with the machine and the date beside the numbers."""
    path = ROOT / "bench" / "results" / f"{name}-{date.today().isoformat()}.md"
    header = f"# {name}\n\n- date: {time.strftime('%Y-%m-%d %H:%M %Z')}\n- machine: {machine()}\n"
    header += f"- revision: {git_revision()}\n- command: `{' '.join(sys.argv)}`\n\n"
    path.write_text(header + body)
    return path


__all__ = ["SPACE", "Gunicorn", "median", "objective", "optuna_params", "percentile", "record", "start_redis"]
