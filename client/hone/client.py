"""The entry point: `hone.Client(url, token)` reaches one Hone server and hands out studies."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

import httpx

from ._exceptions import Conflict
from ._http import HTTP, NDJSON
from ._leases import Leases
from ._version import __version__
from .models import StudyInfo
from .space import SpaceLike, space_to_list
from .study import Study

__all__ = ["DEFAULT_URL", "Client", "ClientSettings"]

DEFAULT_URL = "http://127.0.0.1:8000"  # where the service listens unless told otherwise
DEFAULT_TIMEOUT = 30.0  # seconds per request; every call is a few Redis round trips on the server
DEFAULT_RETRIES = 8  # with the default backoff, about half a minute: a server restart or a Redis failover
DEFAULT_BACKOFF = 0.25  # seconds before the first retry (full jitter, doubling, capped at 10 s)
_NOT_A_WORKER_CHAR = re.compile(r"[^\x21-\x7e]")  # the server takes printable ASCII without spaces


def default_worker() -> str:
    """`host:pid`, the label the server records on each trial this process asks."""
    return _NOT_A_WORKER_CHAR.sub("-", f"{socket.gethostname()}:{os.getpid()}")[:128]


@dataclass(frozen=True)
class ClientSettings:
    """What it takes to make the same client again, in another process."""

    url: str
    token: str | None
    timeout: float
    retries: int
    backoff: float
    worker: str | None

    def connect(self) -> Client:
        return Client(
            self.url,
            self.token,
            timeout=self.timeout,
            retries=self.retries,
            backoff=self.backoff,
            worker=self.worker,
        )


class Client:
    """A connection to a Hone server. Thread-safe; close it, or use it as a context manager.

    `url` and `token` default to $HONE_URL and $HONE_TOKEN. Requests that fail for a passing
    reason (connection refused or reset, 502, 503, 504) are retried `retries` times with
    exponential backoff from `backoff` seconds. `worker` labels the trials this client asks
    (default `host:pid`). `transport` is any httpx transport, e.g. `httpx.WSGITransport(app=...)`.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        worker: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url or os.environ.get("HONE_URL") or DEFAULT_URL
        token = token if token is not None else os.environ.get("HONE_TOKEN") or None
        self.worker = worker or default_worker()
        # A custom transport cannot travel to another process; settings are for optimize(processes=True).
        self.settings = None if transport else ClientSettings(self.url, token, timeout, retries, backoff, worker)
        self.http = HTTP(
            self.url,
            token=token,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            user_agent=f"hone-client/{__version__}",
            transport=transport,
        )
        self.leases = Leases()

    def study(
        self,
        name: str,
        space: SpaceLike | None = None,
        *,
        direction: str | None = None,
        sampler: str | Mapping[str, Any] | None = None,
        seed: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        max_retries: int | None = None,
        lease_seconds: float | None = None,
        pruner: str | Mapping[str, Any] | None = None,
        warm_start: str | Mapping[str, Any] | None = None,
        exist_ok: bool = True,
    ) -> Study:
        """Get or create a study.

        Without `space`, the study must exist (NotFound otherwise). With it, the study is created,
        or returned when it exists with the same spec, so every worker can run this same line;
        a different spec raises Conflict (code `study_exists`, `details["differences"]`). With
        `exist_ok=False` an existing study raises Conflict too. Unset options take the server's
        defaults (minimize, the default sampler, no pruner, a drawn seed, 2 retries, 1800 s leases); they need a
        space (ValueError otherwise), as they could not be checked against the study without it.

        `warm_start` re-tunes from an earlier study: its name (its 10 best configurations are
        handed out alternating with fresh draws, and dropped once fresh draws beat them), or
        `{"from": name, "top": k, "region": True, "region_share": 0.5, "out_of_bounds": "clip" | "skip"}`.
        It applies when the study is created; the study's `info().warm_start` says what was
        carried over.
        """
        study = Study(self, name)
        options = {
            "direction": direction,
            "sampler": {"name": sampler} if isinstance(sampler, str) else sampler,
            "seed": seed,
            "metadata": metadata,
            "max_retries": max_retries,
            "lease_seconds": lease_seconds,
            "pruner": {"name": pruner} if isinstance(pruner, str) else pruner,
            "warm_start": {"from": warm_start} if isinstance(warm_start, str) else warm_start,
        }
        if space is None:
            given = [key for key, value in options.items() if value is not None]
            if given:
                raise ValueError(f"{', '.join(given)} describe a study to create: give its space too")
            study.info()
            return study
        body: dict[str, Any] = {"space": space_to_list(space)}
        body.update({key: value for key, value in options.items() if value is not None})
        response = self.http.request("PUT", study.path, json=body, idempotent=True)
        if response.status_code == 200 and not exist_ok:
            raise Conflict(409, "study_exists", f"study {name!r} already exists")
        return study

    def import_study(self, name: str, source: IO[bytes] | Iterable[bytes]) -> Study:
        """Create study `name` from an export (`Study.export`): a binary file or an iterable of
        its lines, streamed. Sent once, never retried: a stream cannot be replayed, and the
        server either creates the whole study or nothing (a name that exists is a Conflict)."""
        study = Study(self, name)
        self.http.upload(f"{study.path}/import", source, content_type=NDJSON)
        return study

    def studies(self) -> list[StudyInfo]:
        """Every study, by name, with its counts and best trial."""
        return [StudyInfo.from_json(s) for s in self.http.pages("/v1/studies", {"limit": 100}, "studies")]

    def close(self) -> None:
        """Stop renewing leases and close the connections. Open trials are left running."""
        self.leases.close()
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Client {self.url}>"
