"""A study on the server: ask for trials, tell results, read what happened."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, overload
from urllib.parse import quote

import httpx

from ._exceptions import NotFound, TransportError
from ._optimize import DEFAULT_MAX_FAILURES, Callback, Objective, Plan, optimize
from .models import FrozenTrial, Importance, StudyInfo
from .trial import Trial, error_text

if TYPE_CHECKING:
    import pandas

    from .client import Client

__all__ = ["Study"]

EXPORT_TAIL = 4096  # bytes kept of an export's end: its last line says how many of each came before


class Study:
    """A handle on one study; cheap to make, it holds no state but the name. Thread-safe."""

    def __init__(self, client: Client, name: str) -> None:
        self.client = client
        self.http = client.http
        self.leases = client.leases
        self.name = name
        self.path = f"/v1/studies/{quote(name, safe='')}"

    def info(self) -> StudyInfo:
        """The spec, trial counts by state and the best trial, read now."""
        return StudyInfo.from_json(self.http.request("GET", self.path).json())

    @overload
    def ask(self, n: None = None, *, lease_seconds: float | None = None) -> Trial: ...

    @overload
    def ask(self, n: int, *, lease_seconds: float | None = None) -> list[Trial]: ...

    def ask(self, n: int | None = None, *, lease_seconds: float | None = None) -> Trial | list[Trial]:
        """One trial, or a list of `n`. Each trial's lease is renewed in the background until it is told.

        `lease_seconds` overrides the study's lease for these trials.
        """
        body: dict[str, Any] = {"count": 1 if n is None else n, "worker": self.client.worker}
        if lease_seconds is not None:
            body["lease_seconds"] = lease_seconds
        answer = self.http.request("POST", f"{self.path}/trials/ask", json=body, idempotent=True).json()
        trials = [Trial(self, FrozenTrial.from_json(t), lease_seconds) for t in answer["trials"]]
        return trials[0] if n is None else trials

    # Tell, heartbeat and report take the trial's `id` as ask handed it out, never its number: a
    # worker of a study deleted and created again since gets Conflict `study_recreated`.

    def tell(self, trial_id: str, value: float) -> FrozenTrial:
        """Tell the trial with this id complete with `value` (for a trial asked elsewhere, e.g. by `hone ask`)."""
        return self._tell(trial_id, {"state": "complete", "value": float(value)})

    def fail(self, trial_id: str, error: BaseException | str | None = None) -> FrozenTrial:
        """Tell the trial with this id failed."""
        return self._tell(trial_id, {"state": "failed", "error": error_text(error)})

    def prune(self, trial_id: str, value: float | None = None) -> FrozenTrial:
        """Tell the trial with this id pruned, with its last value if there is one."""
        return self._tell(trial_id, {"state": "pruned", "value": value})

    def _tell(self, trial_id: str, body: dict[str, Any]) -> FrozenTrial:
        response = self.http.request("POST", f"{self._trial_path(trial_id)}/tell", json=body, idempotent=True)
        return FrozenTrial.from_json(response.json())

    def heartbeat(self, trial_id: str, lease_seconds: float | None = None) -> FrozenTrial:
        """Renew a running trial's lease (the client does this by itself for trials it asked)."""
        body = {} if lease_seconds is None else {"lease_seconds": lease_seconds}
        response = self.http.request("POST", f"{self._trial_path(trial_id)}/heartbeat", json=body, idempotent=True)
        return FrozenTrial.from_json(response.json())

    def report(self, trial_id: str, step: int, value: float) -> bool:
        """Record a learning-curve point of the trial with this id; True when the study's pruner says stop."""
        body = {"step": int(step), "value": float(value)}
        response = self.http.request("POST", f"{self._trial_path(trial_id)}/report", json=body, idempotent=True)
        return bool(response.json()["prune"])

    def _trial_path(self, trial_id: str) -> str:
        return f"{self.path}/trials/{quote(trial_id, safe='')}"

    def curves(self, numbers: Iterable[int], max_points: int = 500) -> dict[int, list[tuple[int, float]]]:
        """Learning curves of these trials, as (step, value) pairs, thinned to `max_points`."""
        params = {"numbers": ",".join(str(n) for n in numbers), "max_points": max_points}
        answer = self.http.request("GET", f"{self.path}/curves", params=params).json()
        return {c["number"]: [(int(step), float(value)) for step, value in c["points"]] for c in answer["curves"]}

    def enqueue(self, *configurations: dict[str, Any]) -> list[int]:
        """Queue exact configurations; the next asks hand them out first, in order. Returns their ids."""
        body = {"configurations": list(configurations)}
        answer = self.http.request("POST", f"{self.path}/enqueue", json=body, idempotent=True).json()
        return [entry["id"] for entry in answer["enqueued"]]

    def pause(self) -> StudyInfo:
        """Stop handing out trials (asks raise Conflict `study_paused`); running trials carry on."""
        return StudyInfo.from_json(self.http.request("POST", f"{self.path}/pause").json())

    def resume(self) -> StudyInfo:
        """Hand out trials again."""
        return StudyInfo.from_json(self.http.request("POST", f"{self.path}/resume").json())

    def note(self, text: str, number: int | None = None) -> None:
        """Set the study's note, or trial `number`'s ("" clears it)."""
        path = self.path if number is None else f"{self.path}/trials/{number}"
        self.http.request("PUT", f"{path}/note", json={"note": text})

    def importance(self) -> Importance:
        """Each param's importance for the objective over the complete trials, most important first.
        Raises Conflict (code `too_few_trials`) while the study has too few complete trials."""
        return Importance.from_json(self.http.request("GET", f"{self.path}/importance").json())

    def trial(self, number: int) -> FrozenTrial:
        return FrozenTrial.from_json(self.http.request("GET", f"{self.path}/trials/{number}").json())

    @property
    def best(self) -> FrozenTrial | None:
        """The best complete trial, read now; None until a trial completes."""
        try:
            return FrozenTrial.from_json(self.http.request("GET", f"{self.path}/best").json())
        except NotFound as exc:
            if exc.code == "no_complete_trial":
                return None
            raise

    def trials(
        self, state: str | Iterable[str] | None = None, *, order: str = "number", page_size: int = 500
    ) -> Iterator[FrozenTrial]:
        """Every trial, page by page: filter by state(s); order by `number`, `-number` or `value`."""
        params: dict[str, Any] = {"order": order, "limit": page_size}
        if state is not None:
            params["state"] = state if isinstance(state, str) else ",".join(state)
        for trial in self.http.pages(f"{self.path}/trials", params, "trials"):
            yield FrozenTrial.from_json(trial)

    def to_csv(self, target: str | os.PathLike[str] | IO[str], state: str | Iterable[str] | None = None) -> None:
        """Write the trials as CSV, one column per param, to a path or an open text file."""
        if isinstance(target, (str, os.PathLike)):
            with open(target, "w", newline="") as file:
                self._write_csv(file, state)
        else:
            self._write_csv(target, state)

    def _write_csv(self, file: IO[str], state: str | Iterable[str] | None) -> None:
        params: dict[str, Any] = {"format": "csv"}
        if state is not None:
            params["state"] = state if isinstance(state, str) else ",".join(state)
        response = self.http.request("GET", f"{self.path}/trials", params=params, stream=True)
        try:
            for chunk in response.iter_text():
                file.write(chunk)
        finally:
            response.close()

    def to_pandas(self) -> pandas.DataFrame:
        """The trials as a pandas DataFrame, with the same columns as `to_csv` (needs pandas)."""
        try:
            import pandas  # an optional dependency: only this method needs it
        except ImportError as exc:
            raise ImportError("to_pandas() needs pandas: pip install 'hone-client[pandas]'") from exc

        buffer = io.StringIO()
        self._write_csv(buffer, None)
        buffer.seek(0)
        return pandas.read_csv(buffer, parse_dates=["asked_at", "finished_at"])

    def optimize(
        self,
        objective: Objective,
        n_trials: int | None = None,
        *,
        n_workers: int = 1,
        timeout: float | None = None,
        processes: bool = False,
        catch: Sequence[type[BaseException]] = (),
        max_failures: int | None = DEFAULT_MAX_FAILURES,
        callbacks: Sequence[Callback] = (),
        show_progress: bool | None = None,
    ) -> None:
        """Run `objective(trial) -> value` on asked trials, `n_workers` at a time, in threads or processes.

        Stops after `n_trials` trials (None: no limit) or, for new trials, after `timeout` seconds.
        An exception in the objective tells the trial failed; after `max_failures` failed trials in
        a row (None: never) every worker stops and ObjectiveFailed is raised, naming the last trial,
        with its error as the cause. An exception of a type in `catch` is only logged and never
        stops the run. Ctrl-C tells the running trials failed and stops.
        `callbacks(study, trial)` run after each trial is told. `show_progress` keeps a status line
        on stderr (trials done, running, failed, best so far); None: when stderr is a terminal.
        With `processes`, the objective and the callbacks must be picklable (checked before any
        trial is asked), and each process makes its own client.
        """
        if max_failures is not None and max_failures < 1:
            raise ValueError("max_failures must be at least 1, or None for no limit")
        progress = sys.stderr.isatty() if show_progress is None else show_progress
        plan = Plan(objective, n_trials, n_workers, timeout, tuple(catch), tuple(callbacks), max_failures, progress)
        optimize(self, plan, processes)

    def export(self, out: IO[bytes]) -> int:
        """Write the whole study to a binary file as NDJSON (the server's export format), streamed;
        returns the bytes written. Raises TransportError when the stream stops before its end line."""
        response = self.http.request("GET", f"{self.path}/export", stream=True)
        written, tail = 0, b""
        try:
            for block in response.iter_bytes():
                out.write(block)
                written += len(block)
                tail = (tail + block)[-EXPORT_TAIL:]
        except httpx.HTTPError as exc:
            raise TransportError(f"GET {self.path}/export: {type(exc).__name__}: {exc}") from exc
        finally:
            response.close()
        last = tail.rstrip(b"\n").rpartition(b"\n")[2]
        if not tail.endswith(b"\n") or b'"kind":"end"' not in last:
            raise TransportError(f"GET {self.path}/export: the stream stopped before its end line")
        return written

    def delete(self) -> None:
        """Delete the study and all its trials."""
        self.http.request("DELETE", self.path, idempotent=True)

    def __repr__(self) -> str:
        return f"<Study {self.name}>"
