"""Keeps open trials alive: one background thread per client renews every open trial's lease."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

log = logging.getLogger("hone")

# Renew a third of the way into the lease: two renewals in a row may be lost before it runs out.
HEARTBEAT_FRACTION = 1 / 3


class Renewable(Protocol):
    def heartbeat(self) -> bool:
        """Renew the lease; False when there is nothing left to renew."""


class Leases:
    """Calls `item.heartbeat()` every `interval` seconds per item until it returns False or the item is discarded."""

    def __init__(self) -> None:
        self._due: dict[Renewable, tuple[float, float]] = {}  # item -> (next renewal, interval), monotonic
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, item: Renewable, interval: float) -> None:
        with self._wake:
            if self._closed:
                return
            self._due[item] = (time.monotonic() + interval, interval)
            if self._thread is None:
                # A daemon: a client nobody closed must not keep the interpreter from exiting.
                self._thread = threading.Thread(target=self._run, name="hone-leases", daemon=True)
                self._thread.start()
            self._wake.notify()

    def discard(self, item: Renewable) -> None:
        with self._wake:
            self._due.pop(item, None)

    def close(self) -> None:
        """Stop renewing; running trials keep their leases until these run out."""
        with self._wake:
            self._closed = True
            self._due.clear()
            self._wake.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        with self._wake:
            while not self._closed:
                now = time.monotonic()
                due = [item for item, (when, _) in self._due.items() if when <= now]
                if not due:
                    soonest = min((when for when, _ in self._due.values()), default=None)
                    self._wake.wait(None if soonest is None else soonest - now)
                    continue
                for item in due:
                    self._due[item] = (now + self._due[item][1], self._due[item][1])
                # Renew without the lock: a slow server must not block add() and discard().
                self._wake.release()
                try:
                    finished = [item for item in due if not self._renew_safely(item)]
                finally:
                    self._wake.acquire()
                for item in finished:
                    self._due.pop(item, None)

    def _renew_safely(self, item: Renewable) -> bool:
        # This thread is the only one renewing: an unexpected error must not end it.
        try:
            return item.heartbeat()
        except Exception:
            log.exception("renewing the lease of %s failed; trying again later", item)
            return True
