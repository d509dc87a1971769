"""`hone run`: one command per trial, its params in the arguments and the environment, its value on stdout."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .trial import Trial

KILL_AFTER = 10.0  # seconds between asking commands to stop (SIGTERM) and killing them (SIGKILL)
TAIL_BYTES = 4096  # how much of the end of stderr a failed trial records
PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.-]{1,64})\}")
NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


class CommandFailed(Exception):
    """The command exited with an error, or printed no value."""


class Interrupted(BaseException):
    """The run was stopped (Ctrl-C, SIGTERM); like KeyboardInterrupt, no `catch` swallows it."""


def format_value(value: Any) -> str:
    """A param as a command-line word: floats round-trip, booleans are lowercase."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def placeholders(argv: Sequence[str]) -> list[str]:
    """The `{name}` placeholders of a command, in order of first appearance."""
    return list(dict.fromkeys(name for arg in argv for name in PLACEHOLDER.findall(arg)))


def substitute(argv: Sequence[str], params: Mapping[str, Any]) -> list[str]:
    """`{name}` becomes the param's value; other braces, and params absent from this trial, stay as written."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return format_value(params[name]) if name in params else match.group(0)

    return [PLACEHOLDER.sub(value, arg) for arg in argv]


def param_env(study: str, trial: Trial) -> dict[str, str]:
    """HONE_PARAM_<NAME> per param (upper case, other characters as _), HONE_PARAMS as JSON, HONE_TRIAL, HONE_STUDY."""
    env = {f"HONE_PARAM_{NOT_ALNUM.sub('_', name).upper()}": format_value(v) for name, v in trial.params.items()}
    env.update(HONE_PARAMS=json.dumps(dict(trial.params)), HONE_TRIAL=str(trial.number), HONE_STUDY=study)
    return env


def tail(path: Path, size: int = TAIL_BYTES) -> str:
    with path.open("rb") as file:
        file.seek(max(0, path.stat().st_size - size))
        return file.read().decode(errors="replace")


def parse_value(stdout_tail: str) -> float:
    """The objective from the last non-empty line: a number, or a JSON object with a "value"."""
    lines = [line.strip() for line in stdout_tail.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    try:
        parsed = json.loads(last)
        value = parsed["value"] if isinstance(parsed, dict) else parsed
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    except (ValueError, KeyError):
        pass
    raise CommandFailed(f'the last line of stdout is not a number or {{"value": ...}}: {last[-200:]!r}')


class Command:
    """The objective of `hone run`: runs the command for a trial and returns its value. Thread-safe."""

    def __init__(self, argv: Sequence[str], study: str, logs: Path) -> None:
        self.argv = list(argv)
        self.study = study
        self.logs = logs
        self.stopped_by: str | None = None
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def __call__(self, trial: Trial) -> float:
        out, err = self.logs / f"{trial.number}.out", self.logs / f"{trial.number}.err"
        with self._lock, out.open("wb") as stdout, err.open("wb") as stderr:
            if self.stopped_by:
                raise Interrupted(f"stopped by {self.stopped_by} before it started")
            # A session of its own: stopping it reaches whatever the command started in turn.
            process = subprocess.Popen(
                substitute(self.argv, trial.params),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env={**os.environ, **param_env(self.study, trial)},
                start_new_session=True,
            )
            self._running.add(process)
        try:
            code = process.wait()
        finally:
            with self._lock:
                self._running.discard(process)
        if self.stopped_by:
            raise Interrupted(f"stopped by {self.stopped_by}")
        if code != 0:
            raise CommandFailed(f"exit code {code}; stderr ends with:\n{tail(err)}")
        return parse_value(tail(out))

    def stop(self, reason: str) -> None:
        """Start no more commands; ask the running ones to stop, and kill those still running later."""
        with self._lock:
            again = self.stopped_by is not None
            self.stopped_by = reason
        self._signal(signal.SIGKILL if again else signal.SIGTERM)
        if not again:
            timer = threading.Timer(KILL_AFTER, self._signal, (signal.SIGKILL,))
            timer.daemon = True
            timer.start()

    def _signal(self, signum: signal.Signals) -> None:
        with self._lock:
            for process in self._running:
                if process.returncode is None:  # not reaped yet, so its id is still its own
                    with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
                        os.killpg(process.pid, signum)
