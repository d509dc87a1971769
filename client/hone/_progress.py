"""What `hone run` shows while it works: on a terminal one status line kept up to date, elsewhere a line per trial."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from .models import FrozenTrial, TrialState

if TYPE_CHECKING:
    from .study import Study

REFRESH = 1.0  # seconds between redraws of the status line: the running count and the clock move on their own


def brief(error: str | None) -> str:
    """An error on one line: its first line, and its last (where a traceback names the exception)."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    return " … ".join(lines[:1] + lines[-1:]) if len(lines) > 1 else "".join(lines)


class Progress:
    """Counts the trials this run told; `told` is an optimize callback, called from worker threads."""

    def __init__(self, total: int | None, running: Callable[[], int], stream: IO[str]) -> None:
        self.total = total
        self.running = running
        self.stream = stream
        self.tty = stream.isatty()
        self.counts: Counter[TrialState] = Counter()
        self.best: FrozenTrial | None = None
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._finished = threading.Event()
        if self.tty:
            threading.Thread(target=self._redraw, name="hone-progress", daemon=True).start()

    def told(self, study: Study, trial: FrozenTrial) -> None:
        best = study.best  # the study's best, whichever machine ran it
        with self._lock:
            self.counts[trial.state] += 1
            self.best = best
            if self.tty:
                self._write(f"\r\x1b[K{self.status()}")
            else:
                outcome = trial.value if trial.state is TrialState.COMPLETE else brief(trial.error)
                self._write(f"trial {trial.number} {trial.state}: {outcome} | {self.status()}\n")

    def status(self) -> str:
        done = sum(self.counts.values())
        parts = [f"{done}/{self.total} done" if self.total is not None else f"{done} done"]
        parts += [f"{n} {state}" for state, n in sorted(self.counts.items())]
        parts.append(f"{self.running()} running")
        if self.best is not None:
            parts.append(f"best {self.best.value:.6g} (trial {self.best.number})")
        parts.append(time.strftime("%H:%M:%S", time.gmtime(time.monotonic() - self._started)))
        return " · ".join(parts)

    def finish(self, note: str = "") -> None:
        """Replace the status line with the final one, and the best params."""
        self._finished.set()
        with self._lock:
            summary = f"{note}{self.status()}"
            if self.best is not None:
                summary += f"\nbest params: {json.dumps(dict(self.best.params))}"
            self._write(("\r\x1b[K" if self.tty else "") + summary + "\n")

    def _redraw(self) -> None:
        while True:
            with self._lock:
                if self._finished.is_set():  # finish() may have won the lock: leave its summary be
                    return
                self._write(f"\r\x1b[K{self.status()}")
            self._finished.wait(REFRESH)

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
