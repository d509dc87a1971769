"""HTTP with retries: every request the client makes goes through `HTTP.request`.

Every call the client makes is safe to repeat. Reads are by nature; writes (create, ask, tell,
heartbeat, delete) carry an Idempotency-Key that stays the same across the retries of one call,
so the server answers a repeat with the first answer instead of acting twice: a lost answer to
an ask never hands out a second trial. So a dropped connection, a timeout or a restarting server
is retried, with exponential backoff and full jitter so that many workers do not come back in
lockstep.
"""

from __future__ import annotations

import io
import logging
import os
import random
import stat
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import IO, Any

import httpx

from ._exceptions import APIError, TransportError, error_from_response

log = logging.getLogger("hone")

RETRY_STATUSES = frozenset({502, 503, 504})  # a proxy with no upstream, Redis down, a gateway timeout
RETRY_CODES = frozenset({"request_in_progress"})  # a retry that raced its own first attempt
MAX_BACKOFF = 10.0  # seconds; past this a longer wait only delays noticing that the server is back
# Failures where the server may or may not have acted; Idempotency-Keys make a repeat harmless.
RETRY_EXCEPTIONS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
NDJSON = "application/x-ndjson"  # a study's export: one JSON object per line
UPLOAD_BLOCK = 1 << 16  # bytes per read of an uploaded file


class HTTP:
    """One httpx.Client plus the retry policy; thread-safe, as httpx.Client is."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None,
        timeout: float,
        retries: int,
        backoff: float,
        user_agent: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.retries = retries
        self.backoff = backoff
        self._client = httpx.Client(base_url=url, timeout=timeout, headers=headers, transport=transport)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = False,
        stream: bool = False,
    ) -> httpx.Response:
        """Send until a success or a final error. `idempotent` adds an Idempotency-Key kept across retries.

        With `stream`, the successful response is returned unread; the caller closes it.
        """
        headers = {"Idempotency-Key": str(uuid.uuid4())} if idempotent else {}
        request = self._client.build_request(method, path, json=json, params=params, headers=headers)
        attempt = 0
        while True:
            try:
                response = self._client.send(request, stream=stream)
            except RETRY_EXCEPTIONS as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if attempt == self.retries:
                    raise TransportError(f"{method} {request.url}: {reason}") from exc
            except httpx.HTTPError as exc:
                raise TransportError(f"{method} {request.url}: {type(exc).__name__}: {exc}") from exc
            else:
                if response.is_success:
                    return response
                response.read()
                response.close()
                error = error_from_response(response)
                if attempt == self.retries or not _transient(error):
                    raise error
                reason = str(error)
            delay = self.delay(attempt)
            log.info("%s %s: %s; retry %d/%d in %.2f s", method, request.url, reason, attempt + 1, self.retries, delay)
            time.sleep(delay)
            attempt += 1

    def upload(self, path: str, body: IO[bytes] | Iterable[bytes], *, content_type: str) -> httpx.Response:
        """POST a streamed body, once: a stream cannot be sent again, so nothing is retried."""
        method = "POST"
        try:
            response = self._client.post(path, content=_chunks(body), headers={"Content-Type": content_type})
        except httpx.HTTPError as exc:
            raise TransportError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise error_from_response(response)
        return response

    def pages(self, path: str, params: dict[str, Any], key: str) -> Iterator[Any]:
        """The items under `key` of every page of a listing, following `next_cursor`."""
        params = dict(params)
        while True:
            page = self.request("GET", path, params=params).json()
            yield from page[key]
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, backoff * 2**attempt], capped."""
        return random.uniform(0, min(MAX_BACKOFF, self.backoff * 2**attempt))

    def close(self) -> None:
        self._client.close()


def _chunks(body: IO[bytes] | Iterable[bytes]) -> IO[bytes] | Iterator[bytes]:
    """What httpx should send: a regular or in-memory file as it is (httpx sends its length),
    anything else a block at a time (chunked): httpx would take a pipe's size, 0, for its length."""
    read = getattr(body, "read", None)
    if read is None:
        return iter(body)
    try:
        regular = stat.S_ISREG(os.fstat(body.fileno()).st_mode)  # type: ignore[union-attr]
    except (OSError, io.UnsupportedOperation):
        regular = True  # no descriptor: an in-memory file, whose length httpx finds by seeking
    return body if regular else iter(lambda: read(UPLOAD_BLOCK), b"")  # type: ignore[return-value]


def _transient(error: APIError) -> bool:
    return error.status in RETRY_STATUSES or error.code in RETRY_CODES
