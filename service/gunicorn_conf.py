"""gunicorn settings: `gunicorn -c service/gunicorn_conf.py 'service.app:create_app()'`.

Without REDIS_URL the master starts one embedded Redis before forking, and every worker shares it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from service.config import Settings

settings = Settings.from_env()
if settings.worker_class == "gevent":
    # Patch before anything imports ssl or sockets (redis does), in the master, so every worker
    # inherits cooperative modules; patching only in the worker comes too late.
    from gevent import monkey

    monkey.patch_all()

from service.embedded_redis import EmbeddedRedis  # noqa: E402

bind = settings.bind
workers = settings.workers
# gevent (the default) or gthread keep client connections alive while requests wait on Redis.
worker_class: Any = settings.worker_class
threads = settings.threads
worker_connections = settings.worker_connections
keepalive = settings.keepalive
timeout = 60
graceful_timeout = 20
accesslog = os.environ.get("HONE_ACCESS_LOG")  # off by default: the hot path logs nothing
# One shared socket path per user would make two services on one machine fight over it.
control_socket_disable = True

if settings.worker_class == "gevent":
    import gevent
    from gunicorn.workers.ggevent import GeventWorker

    # A connection slot is idle-bound by header_timeout once this share of them is taken.
    CROWDED_SHARE = 0.9

    class BoundedIdleGeventWorker(GeventWorker):
        """gunicorn's gevent worker waits `keepalive` seconds for every request's headers, the first
        included, so sockets that connect and send nothing held each of the worker_connections
        slots for 75 s and new clients waited behind them. Here a new connection, or any idle one
        while the worker is crowded, gets header_timeout seconds instead."""

        open_connections = 0

        def handle(self, listener: Any, client: Any, addr: Any) -> None:
            self.open_connections += 1
            try:
                super().handle(listener, client, addr)
            finally:
                self.open_connections -= 1

        def timeout_ctx(self) -> Any:
            # One greenlet serves one connection, so the greenlet remembers whether it served one.
            connection = gevent.getcurrent()
            first = not getattr(connection, "hone_served", False)
            connection.hone_served = True
            crowded = self.open_connections > CROWDED_SHARE * self.worker_connections
            return gevent.Timeout(settings.header_timeout if first or crowded else self.cfg.keepalive, False)

    worker_class = BoundedIdleGeventWorker

_embedded: EmbeddedRedis | None = None
_metrics_dir: str | None = None


def on_starting(server: Any) -> None:
    global _embedded, _metrics_dir
    # Each worker writes its metric samples here and /metrics adds them up; a fresh directory per
    # run, so samples of an earlier run never count.
    _metrics_dir = tempfile.mkdtemp(prefix="hone-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir
    if settings.redis_url is None:
        _embedded = EmbeddedRedis(settings.data_dir, settings.appendfsync)
        os.environ["REDIS_URL"] = _embedded.start()
        server.log.info("embedded Redis at %s, data in %s", os.environ["REDIS_URL"], settings.data_dir.resolve())


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    if _embedded is not None:
        _embedded.stop()
    if _metrics_dir is not None:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
