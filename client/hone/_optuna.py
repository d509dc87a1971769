"""An Optuna study as a Hone export stream, so `hone import NAME --from-optuna URL STUDY` brings
its trials in and an Optuna user can switch mid-project. Needs `pip install 'hone-client[optuna]'`.

The space is the union of the trials' distributions. Finished trials come over (complete,
pruned, failed) with their values, times and intermediate values; running and waiting ones do
not, nor trials that lack a param others have (Hone's space has no dynamic params).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .trial import error_text

__all__ = ["OptunaExport", "from_optuna"]

_STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}


@dataclass
class OptunaExport:
    """The stream's lines, and what was left behind (filled once the lines are read)."""

    lines: Iterator[bytes]
    skipped: Counter[str] = field(default_factory=Counter)


def _param(name: str, distribution: Any) -> dict[str, Any]:
    kind = type(distribution).__name__
    if kind == "CategoricalDistribution":
        return {"name": name, "type": "categorical", "choices": list(distribution.choices)}
    if distribution.low == distribution.high:
        return {"name": name, "type": "categorical", "choices": [distribution.low]}
    out: dict[str, Any] = {
        "name": name,
        "type": "int" if kind == "IntDistribution" else "float",
        "low": distribution.low,
        "high": distribution.high,
        "scale": "log" if distribution.log else "linear",
    }
    if distribution.step is not None and not (kind == "IntDistribution" and distribution.step == 1):
        out["step"] = distribution.step
    return out


def _ms(moment: Any) -> int:
    return int(moment.timestamp() * 1000)


def _line(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, separators=(",", ":"), allow_nan=False) + "\n").encode()


def from_optuna(storage_url: str, study_name: str) -> OptunaExport:
    """Load the Optuna study now (errors surface here) and stream it as a Hone export."""
    try:
        import optuna
    except ImportError:
        raise RuntimeError("importing from Optuna needs optuna: pip install 'hone-client[optuna]'") from None
    try:
        study = optuna.load_study(study_name=study_name, storage=storage_url)
    except KeyError:
        raise ValueError(f"no Optuna study named {study_name!r} in {storage_url}") from None
    if len(study.directions) != 1:
        raise ValueError(f"Optuna study {study_name!r} has {len(study.directions)} objectives; Hone studies have one")
    trials = [t for t in study.get_trials(deepcopy=False) if t.state.name in _STATES]
    space: dict[str, dict[str, Any]] = {}
    for trial in trials:
        for name, distribution in trial.distributions.items():
            param = _param(name, distribution)
            if space.setdefault(name, param) != param:
                raise ValueError(f"param {name!r} has two different distributions in Optuna study {study_name!r}")
    export = OptunaExport(iter(()))
    kept = [t for t in trials if set(t.params) == set(space)]
    export.skipped["missing params"] = len(trials) - len(kept)
    export.skipped["not finished"] = len(study.get_trials(deepcopy=False)) - len(trials)
    direction = "maximize" if study.direction.name == "MAXIMIZE" else "minimize"
    spec = {"direction": direction, "space": list(space.values()), "metadata": {"optuna_study": study_name}}
    export.lines = _lines(study_name, spec, kept, export.skipped)
    return export


def _lines(name: str, spec: dict[str, Any], trials: list[Any], skipped: Counter[str]) -> Iterator[bytes]:
    yield _line({"kind": "study", "format": "hone-study", "version": 1, "name": name, "spec": spec,
                 "trials_total": len(trials)})  # fmt: skip
    counts: Counter[str] = Counter()
    for number, trial in enumerate(trials):
        state = _STATES[trial.state.name]
        value = trial.value if trial.value is not None and math.isfinite(trial.value) else None
        if state == "complete" and value is None:
            state = "failed"  # Optuna keeps a NaN objective as complete; Hone needs a number
        reports = [[int(s), v] for s, v in sorted(trial.intermediate_values.items()) if math.isfinite(v)]
        if len(reports) < len(trial.intermediate_values):
            skipped["non-finite intermediate values"] += len(trial.intermediate_values) - len(reports)
        started = trial.datetime_start or trial.datetime_complete
        counts[state] += 1
        yield _line(
            {
                "kind": "trial",
                "number": number,
                "params": dict(trial.params),
                "state": state,
                "value": value,
                "error": error_text(trial.system_attrs.get("fail_reason")) if state == "failed" else None,
                "source": "optuna",
                "level": None,
                "attempt": 0,
                "retry_of": None,
                "retry_failed": False,
                "requeued": False,
                "worker": None,
                "asked_ms": _ms(started),
                "finished_ms": _ms(trial.datetime_complete or started),
                "note": None,
                "reports": reports,
            }
        )
    yield _line({"kind": "end", "trials": len(trials), "levels": 0, "queued": 0, "counts": dict(counts)})
