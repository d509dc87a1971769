"""Turn REDIS_URL into a client. The one place that knows URL forms.

- `redis://host:6379/0`, `rediss://...` (TLS), `unix:///path/redis.sock`: one Redis server.
- `redis+cluster://host1:7000,host2:7001` (or `rediss+cluster://`): a Redis Cluster, found from
  any of the listed nodes. Every key of a study shares one hash tag, so each script runs on one node.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

SOCKET_TIMEOUT = 5.0  # a script never runs this long; past it Redis is gone, so answer 503
CONNECT_TIMEOUT = 2.0  # a local or same-datacenter Redis connects in milliseconds
CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}


def _retry() -> Retry:
    # Two quick retries ride over a dropped connection; longer outages reach the client as 503.
    return Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2)


def connect(url: str) -> Any:
    """A client returning str, not bytes, for any supported URL."""
    parts = urlsplit(url)
    if parts.scheme in CLUSTER_SCHEMES:
        nodes = []
        for address in parts.netloc.rpartition("@")[2].split(","):
            host, _, port = address.rpartition(":")
            nodes.append(ClusterNode(host or "127.0.0.1", int(port or 6379)))
        return RedisCluster(
            startup_nodes=nodes,
            username=parts.username,
            password=parts.password,
            ssl=CLUSTER_SCHEMES[parts.scheme],
            decode_responses=True,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=CONNECT_TIMEOUT,
            retry=_retry(),
        )
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=CONNECT_TIMEOUT,
        health_check_interval=30,
        retry=_retry(),
    )
