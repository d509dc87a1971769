"""Optuna's TPE on a Hone space (bench only): the strong baseline coarse-to-fine is measured against."""

from __future__ import annotations

from typing import Any

import optuna

from .tasks import Task


def suggest(trial: optuna.Trial, space: list[dict[str, Any]]) -> dict[str, Any]:
    """Define-by-run over a Hone space; reverse_log is searched as 1 - x on a log scale, as Hone does."""
    values: dict[str, Any] = {}
    for p in space:
        condition = p.get("condition")
        if condition is not None and values.get(condition["param"]) not in condition["in"]:
            continue
        name, scale = p["name"], p.get("scale", "linear")
        if p["type"] == "categorical":
            values[name] = trial.suggest_categorical(name, p["choices"])
        elif p["type"] == "int":
            values[name] = trial.suggest_int(name, p["low"], p["high"], log=scale == "log")
        elif scale == "reverse_log":
            values[name] = 1 - trial.suggest_float(f"1-{name}", 1 - p["high"], 1 - p["low"], log=True)
        else:
            values[name] = trial.suggest_float(name, p["low"], p["high"], log=scale == "log")
    return values


def run_tpe(task: Task, budget: int, seed: int) -> list[float]:
    """Values of `budget` sequential TPE trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    values: list[float] = []

    def objective(trial: optuna.Trial) -> float:
        value = task.objective(suggest(trial, task.space))
        values.append(value)
        return value

    study.optimize(objective, n_trials=budget)
    return values
