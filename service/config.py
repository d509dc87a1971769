"""Configuration, read once from the environment. Each default sits beside the reason for it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .access import Token, parse_tokens
from .domain.errors import InvalidInput


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request or one study may hold; each breach is a clear 4xx."""

    max_request_bytes: int = 1 << 20  # a study spec with 100 params and 1000 choices fits well under 1 MiB
    max_ask_count: int = 100  # one ask fills a batch of workers, not a whole cluster
    max_params: int = 100  # beyond 100 params random search in one space stops being meaningful
    max_choices: int = 1000  # categoricals beyond this are identifiers, not hyperparameters
    max_metadata_bytes: int = 16 << 10  # metadata is a label, not a data store
    max_trials_per_study: int = 10_000_000  # ~4 GB of Redis at 400 B per trial: a study, not a leak
    max_page_size: int = 1000  # one page stays a few hundred kB of JSON
    max_curve_points: int = 10_000  # steps kept per learning curve: the latest ones matter for pruning
    max_enqueue_count: int = 1000  # configurations queued by hand in one request
    max_metric_studies: int = 500  # studies labelled in /metrics: a bounded series count for Prometheus

    def check_page_size(self, limit: int) -> None:
        if limit > self.max_page_size:
            raise InvalidInput(f"limit must be at most {self.max_page_size}", code="invalid_limit")


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None  # None: start the embedded Redis under data_dir
    data_dir: Path = Path("hone-data")  # beside the checkout, so a first run needs no set-up
    bind: str = "127.0.0.1:8000"  # loopback until an operator opens it on purpose
    workers: int = 2  # one per core of a small machine; state is in Redis, so more is safe
    # gevent serves many kept-alive connections per process and, in bench/load.py, ~20% more
    # ask+tell pairs per second than gthread threads contending for the GIL.
    worker_class: str = "gevent"
    threads: int = 4  # used by worker_class=gthread only
    worker_connections: int = 1000  # gevent: open connections per worker; greenlets are cheap, sockets are not
    keepalive: int = 75  # seconds a kept-alive connection idles: past clients' and proxies', so they close first
    # Seconds a connection has to send a request's headers when it is new or the worker is crowded:
    # sockets that send nothing are closed this soon, so they cannot hold every connection slot.
    header_timeout: float = 10.0
    appendfsync: str = "everysec"  # embedded Redis: lose at most ~1 s of acknowledged writes on power loss
    limits: Limits = Limits()
    tokens: tuple[Token, ...] = ()  # none: open mode, fine on loopback, warned about at start-up

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        limits = Limits(**{f.name: int(env[var]) for var, f in _LIMIT_VARS.items() if var in env})
        settings = cls(
            redis_url=env.get("REDIS_URL") or None,
            data_dir=Path(env.get("HONE_DATA_DIR", str(cls.data_dir))),
            bind=env.get("HONE_BIND", cls.bind),
            workers=int(env.get("HONE_WORKERS", cls.workers)),
            worker_class=env.get("HONE_WORKER_CLASS", cls.worker_class),
            threads=int(env.get("HONE_THREADS", cls.threads)),
            worker_connections=int(env.get("HONE_WORKER_CONNECTIONS", cls.worker_connections)),
            keepalive=int(env.get("HONE_KEEPALIVE", cls.keepalive)),
            header_timeout=float(env.get("HONE_HEADER_TIMEOUT", cls.header_timeout)),
            appendfsync=env.get("HONE_APPENDFSYNC", cls.appendfsync),
            limits=limits,
            tokens=_tokens(env),
        )
        if settings.worker_class not in ("gevent", "gthread", "sync"):
            raise ValueError("HONE_WORKER_CLASS must be gevent, gthread or sync")
        if settings.appendfsync not in ("everysec", "always", "no"):
            raise ValueError("HONE_APPENDFSYNC must be everysec, always or no")
        return replace(settings, **overrides)


def _tokens(env: Mapping[str, str]) -> tuple[Token, ...]:
    if env.get("HONE_TOKENS") and env.get("HONE_TOKENS_FILE"):
        raise ValueError("set HONE_TOKENS or HONE_TOKENS_FILE, not both")
    if env.get("HONE_TOKENS_FILE"):
        return parse_tokens(Path(env["HONE_TOKENS_FILE"]).read_text())
    if env.get("HONE_TOKENS"):
        return parse_tokens(env["HONE_TOKENS"])
    return ()


_LIMIT_VARS = {f"HONE_{f.name.upper()}": f for f in fields(Limits)}
# Every variable the service reads (gunicorn_conf.py also reads HONE_ACCESS_LOG).
ENV_VARS = frozenset(
    {
        "REDIS_URL",
        "HONE_DATA_DIR",
        "HONE_BIND",
        "HONE_WORKERS",
        "HONE_WORKER_CLASS",
        "HONE_THREADS",
        "HONE_WORKER_CONNECTIONS",
        "HONE_KEEPALIVE",
        "HONE_HEADER_TIMEOUT",
        "HONE_APPENDFSYNC",
        "HONE_ACCESS_LOG",
        "HONE_TOKENS",
        "HONE_TOKENS_FILE",
        *_LIMIT_VARS,
    }
)
