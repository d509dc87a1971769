"""Where an ask+tell pair spends its CPU, measured in one process with no HTTP server in the way.

    .venv/bin/python bench/hot_path.py [--pairs 2000] [--top 25]

Calls the WSGI app directly (Flask, webargs, marshmallow, the use cases, redis-py and Lua all
run; gunicorn's HTTP parsing does not), reports CPU microseconds per pair (best of three rounds,
process time, so other load on the machine matters little) with and without the metrics hooks,
then a cProfile of the hot path sorted by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from common import SPACE, start_redis

from service.app import create_app
from service.config import Settings


def driver(app: Any, sampler: str = "random") -> Any:
    def call(path: str, body: dict[str, Any]) -> bytes:
        data = json.dumps(body).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SERVER_NAME": "bench",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.input": io.BytesIO(data),
        }
        return b"".join(app(environ, lambda status, headers: None))

    def pairs(n: int) -> None:
        for _ in range(n):
            trial = json.loads(call("/v1/studies/profile/trials/ask", {}))["trials"][0]
            call(f"/v1/studies/profile/trials/{trial['number']}/tell", {"state": "complete", "value": 0.5})

    app.test_client().put("/v1/studies/profile", json={"space": SPACE, "sampler": {"name": sampler}})
    pairs(300)  # warm: scripts loaded, caches filled
    return pairs


def cpu_per_pair(pairs: Any, n: int) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        pairs(n)
        best = min(best, (time.process_time() - started) / n * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sampler", default="random", help="the study's sampler")
    parser.add_argument("--sort", default="tottime", help="cProfile sort key (tottime, cumulative)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_redis(Path(tmp))
        try:
            settings = Settings(redis_url=server.url)
            app = create_app({"settings": settings})
            pairs = driver(app, args.sampler)
            print(f"CPU per ask+tell pair: {cpu_per_pair(pairs, args.pairs):.0f} us")
            bare = create_app({"settings": settings})
            bare.before_request_funcs.clear()
            bare.after_request_funcs.clear()
            print(f"  without the metrics hooks: {cpu_per_pair(driver(bare, args.sampler), args.pairs):.0f} us")
            profiler = cProfile.Profile()
            profiler.runcall(pairs, args.pairs)
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
