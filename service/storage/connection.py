"""Turn REDIS_URL into a client. The one place that knows URL forms."""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

SOCKET_TIMEOUT = 5.0  # a script never runs this long; past it Redis is gone, so answer 503
CONNECT_TIMEOUT = 2.0  # a local or same-datacenter Redis connects in milliseconds


def connect(url: str) -> Any:
    """A client for `redis://`, `rediss://` or `unix://` URLs, returning str, not bytes."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=CONNECT_TIMEOUT,
        health_check_interval=30,
        # Two quick retries ride over a dropped connection; longer outages reach the client as 503.
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2),
    )
