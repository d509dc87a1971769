"""Does an ask or a tell get slower as a study grows? And how much Redis does a trial cost?

    .venv/bin/python bench/scale.py --sizes 1000,10000,100000 --samplers random --record

For each sampler and size, a study is filled to that many finished trials through the use-case
layer (the code HTTP requests run, without HTTP), then timed over HTTP against gunicorn: p50 and
p99 of ask and of tell over `--probe` pairs from one keep-alive client. Redis memory per trial
is the growth of used_memory divided by the trials added. Optuna 5 (JournalRedis) runs at the
sizes given by --optuna-sizes: its fill is timed, then a fresh process loads the study and is
timed the same way.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

from common import SPACE, Gunicorn, objective, optuna_params, percentile, record, start_redis
from load import StdlibHTTP

STUDY = "scale"
BATCH = 100
GRID_POINTS = {"n": 10}  # 10 points per numeric param, 3 activations: 300k points for SPACE


def sampler_spec(name: str) -> dict[str, Any]:
    return {"name": name, **(GRID_POINTS if name == "grid" else {})}


def fill(redis_url: str, sampler: str, target: int) -> None:
    """Add finished trials until the study holds `target`, through the use cases (no HTTP)."""
    from service.app import create_app
    from service.config import Settings
    from service.domain.trial import Outcome, TrialState

    hone = create_app({"settings": Settings(redis_url=redis_url)}).extensions["hone"]
    hone.studies.put(STUDY, {"space": SPACE, "sampler": sampler_spec(sampler), "seed": 1})
    done = hone.studies.get(STUDY).extra["trials_total"]
    while done < target:
        for trial in hone.ask_tell.ask(STUDY, min(BATCH, target - done), worker="fill"):
            hone.ask_tell.tell(STUDY, trial.number, Outcome(TrialState.COMPLETE, objective(trial.params)))
            done += 1


def probe(url: str, pairs: int) -> dict[str, float]:
    http = StdlibHTTP(url)
    asks, tells = [], []
    for _ in range(pairs):
        t0 = time.perf_counter()
        trial = http.post(f"/v1/studies/{STUDY}/trials/ask", {})["trials"][0]
        t1 = time.perf_counter()
        http.post(f"/v1/studies/{STUDY}/trials/{trial['id']}/tell", {"state": "complete", "value": 1.0})
        tells.append(time.perf_counter() - t1)
        asks.append(t1 - t0)
    http.close()
    return {
        "ask_p50": percentile(asks, 0.5) * 1000,
        "ask_p99": percentile(asks, 0.99) * 1000,
        "tell_p50": percentile(tells, 0.5) * 1000,
        "tell_p99": percentile(tells, 0.99) * 1000,
    }


def optuna_fill(redis_url: str, target: int, budget: float) -> tuple[int, float]:
    """Fill toward `target` trials for at most `budget` seconds; returns (trials, seconds)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalRedisBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=STUDY,
        storage=JournalStorage(JournalRedisBackend(redis_url)),
        sampler=optuna.samplers.RandomSampler(seed=1),
        load_if_exists=True,
    )
    started = time.perf_counter()
    done = len(study.trials)
    while done < target and time.perf_counter() - started < budget:
        trial = study.ask()
        study.tell(trial, objective(optuna_params(trial)))
        done += 1
    return done, time.perf_counter() - started


def optuna_probe(redis_url: str, pairs: int) -> dict[str, float]:
    """In a fresh process, as a new worker would be: load the study, then time ask and tell."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalRedisBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()
    study = optuna.load_study(
        study_name=STUDY,
        storage=JournalStorage(JournalRedisBackend(redis_url)),
        sampler=optuna.samplers.RandomSampler(),
    )
    load_seconds = time.perf_counter() - started
    asks, tells = [], []
    for _ in range(pairs):
        t0 = time.perf_counter()
        trial = study.ask()
        params = optuna_params(trial)
        t1 = time.perf_counter()
        study.tell(trial, objective(params))
        tells.append(time.perf_counter() - t1)
        asks.append(t1 - t0)
    return {
        "load_s": load_seconds,
        "ask_p50": percentile(asks, 0.5) * 1000,
        "ask_p99": percentile(asks, 0.99) * 1000,
        "tell_p50": percentile(tells, 0.5) * 1000,
        "tell_p99": percentile(tells, 0.99) * 1000,
    }


def in_fresh_process(target: Any, *args: Any) -> Any:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(target, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--million", action="store_true", help="also 1,000,000 trials for the random sampler")
    parser.add_argument("--samplers", default="random")
    parser.add_argument("--optuna-sizes", default="1000,10000,100000")
    parser.add_argument("--optuna-budget", type=float, default=900, help="seconds Optuna may take to fill one size")
    parser.add_argument("--probe", type=int, default=1000, help="ask+tell pairs timed at each size")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = [
        "| system | sampler | trials | ask p50 ms | ask p99 ms | tell p50 ms | tell p99 ms | bytes/trial | notes |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    import redis

    with tempfile.TemporaryDirectory() as tmp:
        server = start_redis(Path(tmp) / "redis")
        db = redis.Redis.from_url(server.url)
        hone = Gunicorn({"REDIS_URL": server.url}).start()
        try:
            for sampler in args.samplers.split(","):
                db.flushall()
                baseline = None
                targets = sizes + ([1_000_000] if args.million and sampler == "random" else [])
                for size in targets:
                    started = time.perf_counter()
                    in_fresh_process(fill, server.url, sampler, size)
                    fill_s = time.perf_counter() - started
                    used = int(db.info("memory")["used_memory"])
                    if baseline is None:
                        # Memory per trial is measured from the first size up, so fixed costs cancel.
                        baseline = (used, size)
                    per_trial = (used - baseline[0]) / (size - baseline[1]) if size > baseline[1] else float("nan")
                    result = probe(hone.url, args.probe)
                    rows.append(
                        f"| hone | {sampler} | {size} | {result['ask_p50']:.2f} | {result['ask_p99']:.2f} | "
                        f"{result['tell_p50']:.2f} | {result['tell_p99']:.2f} | {per_trial:.0f} | "
                        f"filled in {fill_s:.0f} s |"
                    )
                    print(rows[-1], flush=True)
                    # The probe added trials; the next size fills from there.
            for size in [int(s) for s in args.optuna_sizes.split(",") if s]:
                db.flushall()
                reached, fill_s = in_fresh_process(optuna_fill, server.url, size, args.optuna_budget)
                result = in_fresh_process(optuna_probe, server.url, args.probe)
                filled = (
                    f"filled in {fill_s:.0f} s"
                    if reached >= size
                    else (f"reached only {reached} trials in {fill_s:.0f} s (the budget); probed there")
                )
                rows.append(
                    f"| optuna | random | {size} | {result['ask_p50']:.2f} | {result['ask_p99']:.2f} | "
                    f"{result['tell_p50']:.2f} | {result['tell_p99']:.2f} | | {filled}; "
                    f"a new worker's load_study took {result['load_s']:.1f} s |"
                )
                print(rows[-1], flush=True)
        finally:
            hone.stop()
            server.stop()
    table = "\n".join(rows) + "\n"
    print(table)
    if args.record:
        print("written to", record("scale", f"Probe: {args.probe} ask+tell pairs per row, one client.\n\n" + table))


if __name__ == "__main__":
    main()
