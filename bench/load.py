"""Ask+tell throughput and latency: every Hone sampler over keep-alive HTTP beside Optuna's
JournalRedis, one run.

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/load.py --workers 1,2,4,8,16 --seconds 10 --repeat 3 --record

N worker processes loop ask -> tell for a fixed time against one study. Hone runs under gunicorn
with its default settings, once per sampler (random, grid, coarse_to_fine); Optuna 5 uses
JournalStorage on a JournalRedisBackend on the same Redis server, with its random and TPE
samplers. Each configuration runs `--repeat` times, interleaved, and the medians are reported with
each Hone sampler against Hone's random, and Hone's random against Optuna, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from common import SPACE, Gunicorn, median, objective, optuna_params, percentile, record, start_redis

STUDY = "load"


class JsonClient(Protocol):
    """What a worker needs of an HTTP client: POST a JSON body, get the JSON answer."""

    def post(self, path: str, body: dict) -> dict: ...

    def close(self) -> None: ...


class StdlibHTTP:
    """Keep-alive JSON over http.client: the leanest client, so the 2 cores go to the service."""

    def __init__(self, url: str) -> None:
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.hostname is None:
            raise ValueError(f"no host in {url!r}")
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)

    def post(self, path: str, body: dict) -> dict:
        self.connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = self.connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {payload[:200]!r}")
        return json.loads(payload)

    def close(self) -> None:
        self.connection.close()


class HttpxHTTP:
    """The same over httpx, the client the hone package uses."""

    def __init__(self, url: str) -> None:
        import httpx

        self.client = httpx.Client(base_url=url, timeout=30)

    def post(self, path: str, body: dict) -> dict:
        response = self.client.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self.client.close()


CLIENTS: dict[str, Callable[[str], JsonClient]] = {"stdlib": StdlibHTTP, "httpx": HttpxHTTP}
# 8 points per numeric param: 98,304 points, more than any run here asks for.
HONE_OPTIONS = {"grid": {"n": 8}}


def hone_worker(url: str, client: str, start: float, seconds: float) -> tuple[int, list[float], list[float]]:
    http = CLIENTS[client](url)
    asks, tells = [], []
    time.sleep(max(0.0, start - time.time()))
    while time.time() < start + seconds:
        t0 = time.perf_counter()
        trial = http.post(f"/v1/studies/{STUDY}/trials/ask", {})["trials"][0]
        t1 = time.perf_counter()
        http.post(
            f"/v1/studies/{STUDY}/trials/{trial['id']}/tell",
            {"state": "complete", "value": objective(trial["params"])},
        )
        t2 = time.perf_counter()
        asks.append(t1 - t0)
        tells.append(t2 - t1)
    http.close()
    return len(asks), asks, tells


def optuna_worker(
    redis_url: str, sampler_name: str, start: float, seconds: float
) -> tuple[int, list[float], list[float]]:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalRedisBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler() if sampler_name == "tpe" else optuna.samplers.RandomSampler()
    study = optuna.load_study(study_name=STUDY, storage=JournalStorage(JournalRedisBackend(redis_url)), sampler=sampler)
    asks, tells = [], []
    time.sleep(max(0.0, start - time.time()))
    while time.time() < start + seconds:
        t0 = time.perf_counter()
        trial = study.ask()
        params = optuna_params(trial)
        t1 = time.perf_counter()
        study.tell(trial, objective(params))
        t2 = time.perf_counter()
        asks.append(t1 - t0)
        tells.append(t2 - t1)
    return len(asks), asks, tells


def run(pool_size: int, target: Any, args: tuple[Any, ...], seconds: float, warmup: float) -> dict[str, float]:
    start = time.time() + warmup  # every process is up and connected before the clock starts
    with multiprocessing.get_context("spawn").Pool(pool_size) as pool:
        results = pool.starmap(target, [(*args, start, seconds)] * pool_size)
    asks = [a for _, worker_asks, _ in results for a in worker_asks]
    tells = [t for _, _, worker_tells in results for t in worker_tells]
    pairs = sum(count for count, _, _ in results)
    return {
        "pairs_per_s": pairs / seconds,
        "ask_p50_ms": percentile(asks, 0.5) * 1000,
        "ask_p99_ms": percentile(asks, 0.99) * 1000,
        "tell_p50_ms": percentile(tells, 0.5) * 1000,
        "tell_p99_ms": percentile(tells, 0.99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,4,8,16")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds for the workers to start before the clock")
    parser.add_argument("--samplers", default="random,grid,coarse_to_fine", help="Hone samplers to run")
    parser.add_argument("--optuna", default="random,tpe", help="Optuna samplers to run beside Hone")
    parser.add_argument("--client", default="stdlib", choices=sorted(CLIENTS), help="HTTP client of Hone's workers")
    parser.add_argument(
        "--redis",
        default="tcp",
        choices=["tcp", "unix"],
        help="reach Redis over loopback TCP (as over a network) or a unix socket",
    )
    parser.add_argument("--record", action="store_true", help="write bench/results/load-<date>.md")
    args = parser.parse_args()
    workers = [int(n) for n in args.workers.split(",")]
    systems = [f"hone-{s}" for s in args.samplers.split(",") if s]
    systems += [f"optuna-{s}" for s in args.optuna.split(",") if s]

    import httpx
    import optuna
    import redis
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalRedisBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    runs: dict[tuple[str, int], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_redis(Path(tmp) / "redis", tcp=args.redis == "tcp")
        db = redis.Redis.from_url(server.url)
        hone = Gunicorn({"REDIS_URL": server.url}).start()
        try:
            for repeat in range(args.repeat):
                for n in workers:
                    for system in systems:
                        db.flushall()
                        kind, variant = system.split("-")
                        if kind == "hone":
                            sampler = {"name": variant, **HONE_OPTIONS.get(variant, {})}
                            httpx.put(f"{hone.url}/v1/studies/{STUDY}", json={"space": SPACE, "sampler": sampler})
                            result = run(n, hone_worker, (hone.url, args.client), args.seconds, args.warmup)
                        else:
                            storage = JournalStorage(JournalRedisBackend(server.url))
                            optuna.create_study(study_name=STUDY, storage=storage)
                            result = run(n, optuna_worker, (server.url, variant), args.seconds, args.warmup)
                        runs.setdefault((system, n), []).append(result)
                        print(f"repeat {repeat + 1} {system:14s} {n:2d} workers: {result['pairs_per_s']:8.1f} pairs/s")
        finally:
            hone.stop()
            server.stop()

    lines = [
        f"{args.seconds:g} s per run, {args.repeat} runs per row, medians; Hone: gunicorn "
        "(default settings: 2 gevent workers), one study per sampler, workers on "
        f"{'http.client' if args.client == 'stdlib' else 'httpx'}; Optuna 5 JournalRedisBackend on the same "
        f"Redis, reached over {args.redis}. Workers, service and Redis share the machine's cores. "
        "`vs hone-random`: pairs/s and ask p99 against Hone's random sampler in the same run; "
        "`hone-random / this`: Hone's random pairs/s over an Optuna sampler's.",
        "",
        "| system | workers | pairs/s | ask p50 ms | ask p99 ms | tell p50 ms | tell p99 ms | vs hone-random "
        "(pairs/s, ask p99) | hone-random / this |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n in workers:
        baseline = runs.get(("hone-random", n))
        base_rate = median([r["pairs_per_s"] for r in baseline]) if baseline else None
        base_p99 = median([r["ask_p99_ms"] for r in baseline]) if baseline else None
        for system in systems:
            rows = runs[(system, n)]
            rate = median([r["pairs_per_s"] for r in rows])
            cells = [median([r[k] for r in rows]) for k in ("ask_p50_ms", "ask_p99_ms", "tell_p50_ms", "tell_p99_ms")]
            versus = against = ""
            if base_rate and base_p99 is not None and system.startswith("hone") and system != "hone-random":
                versus = f"{rate / base_rate:.0%}, {cells[1] / base_p99:.2f}x"
            if base_rate and system.startswith("optuna"):
                against = f"{base_rate / rate:.1f}x"
            timings = " | ".join(f"{c:.2f}" for c in cells)
            lines.append(f"| {system} | {n} | {rate:.0f} | {timings} | {versus} | {against} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.record:
        print("written to", record("load", table))


if __name__ == "__main__":
    main()
