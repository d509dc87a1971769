"""A trial handed out by ask: its params, and the ways to tell how it went."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._exceptions import Conflict, HoneError, NotFound
from ._leases import HEARTBEAT_FRACTION
from .models import FrozenTrial

if TYPE_CHECKING:
    from .study import Study

__all__ = ["Trial", "error_text"]

log = logging.getLogger("hone")
MAX_ERROR_CHARS = 10_000  # the server refuses longer errors; the end of a log says most


def error_text(error: BaseException | str | None) -> str | None:
    """What a failed trial records: an exception as `Type: message`, clipped to what the server keeps."""
    if isinstance(error, BaseException):
        message = str(error)
        error = f"{type(error).__name__}: {message}" if message else type(error).__name__
    if error is not None and len(error) > MAX_ERROR_CHARS:
        error = "…" + error[-(MAX_ERROR_CHARS - 1) :]
    return error


class Trial:
    """A running trial. While it is open the client renews its lease in the background.

    `with study.ask() as trial:` tells it failed, with the exception's text, if the block raises
    (and re-raises), and failed too if the block ends without telling anything.
    """

    def __init__(self, study: Study, record: FrozenTrial, lease_seconds: float | None) -> None:
        self.study = study
        self.record = record
        self.result: FrozenTrial | None = None  # what the server recorded once told
        self.lease_lost = False  # set when a heartbeat finds the trial expired or finished
        self._lease_seconds = lease_seconds
        if record.asked_at and record.lease_expires_at:
            lease = (record.lease_expires_at - record.asked_at).total_seconds()
            study.leases.add(self, lease * HEARTBEAT_FRACTION)

    @property
    def number(self) -> int:
        return self.record.number

    @property
    def id(self) -> str:
        """What tell, heartbeat and report present: this trial of this incarnation of the study."""
        return self.record.id

    @property
    def params(self) -> Mapping[str, Any]:
        return self.record.params

    @property
    def finished(self) -> bool:
        return self.result is not None

    def report(self, step: int, value: float) -> bool:
        """Record an intermediate value at `step`; True when the study's pruner says stop now.

        A caller that stops then calls `prune()`, which keeps the last reported value.
        """
        return self.study.report(self.id, step, value)

    def tell(self, value: float) -> FrozenTrial:
        """Record the objective's value; the trial is complete."""
        return self._finish(self.study.tell, value)

    def fail(self, error: BaseException | str | None = None) -> FrozenTrial:
        """Record a failure with an error message or exception."""
        return self._finish(self.study.fail, error)

    def prune(self, value: float | None = None) -> FrozenTrial:
        """Record that the trial was stopped early, with its last value if there is one."""
        return self._finish(self.study.prune, value)

    def _finish(self, tell: Callable[[str, Any], FrozenTrial], argument: Any) -> FrozenTrial:
        try:
            result = tell(self.id, argument)
        finally:
            self.study.leases.discard(self)
        self.result = result
        return result

    def heartbeat(self) -> bool:
        """Renew the lease now; False when there is nothing left to renew (expired or finished)."""
        try:
            self.record = self.study.heartbeat(self.id, self._lease_seconds)
        except (Conflict, NotFound) as exc:
            if not self.finished:  # else a tell won the race with this heartbeat: all is well
                self.lease_lost = True
                log.warning("trial %s of %s: %s", self.number, self.study.name, exc)
            return False
        except HoneError as exc:
            log.warning("trial %s of %s: heartbeat failed, trying again later: %s", self.number, self.study.name, exc)
        return True

    def __enter__(self) -> Trial:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.finished:
            return
        if exc is not None:
            self.fail_quietly(exc)  # the block's own exception is the one to raise
        else:
            self.fail("the with block ended without telling a result")

    def fail_quietly(self, error: BaseException | str) -> None:
        """Tell failed during clean-up: if that cannot be done, log why rather than raise."""
        try:
            self.fail(error)
        except HoneError as tell_error:
            log.warning("could not tell trial %s of %s failed: %s", self.number, self.study.name, tell_error)

    def __repr__(self) -> str:
        return f"<Trial {self.study.name}#{self.number} {dict(self.params)}>"
