"""The caviar loop behind `Study.optimize`: ask, run the objective, tell; many at once, until a budget runs out."""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ._exceptions import ObjectiveFailed
from ._progress import Progress
from .models import FrozenTrial
from .trial import Trial

if TYPE_CHECKING:
    from .client import ClientSettings
    from .study import Study

log = logging.getLogger("hone.optimize")

Objective = Callable[[Trial], float]
Callback = Callable[["Study", FrozenTrial], None]
Catch = tuple[type[BaseException], ...]
DEFAULT_MAX_FAILURES = 3  # one failure may be bad luck; three in a row is a bug in the objective


class _Run:
    """What the worker threads of one optimize call share: the trial budget, the open trials, the
    failures in a row, the first error."""

    def __init__(self, n_trials: int | None, timeout: float | None, max_failures: int | None) -> None:
        self.lock = threading.Lock()
        self.left = n_trials
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.max_failures = max_failures
        self.failures_in_row = 0
        self.open: set[Trial] = set()
        self.stopped = False
        self.error: BaseException | None = None

    @property
    def running(self) -> int:
        with self.lock:
            return len(self.open)

    def succeeded(self) -> None:
        with self.lock:
            self.failures_in_row = 0

    def failed(self, study: str, trial: Trial, error: Exception) -> None:
        """Count a failure; at max_failures in a row, stop the run with the last error."""
        with self.lock:
            self.failures_in_row += 1
            failures = self.failures_in_row
        if self.max_failures is not None and failures >= self.max_failures:
            stop = ObjectiveFailed(study, trial.number, failures, error)
            stop.__cause__ = error
            self.stop(stop)
        else:
            log.warning("trial %s of %s failed (%s in a row)", trial.number, study, failures, exc_info=error)

    def take(self) -> bool:
        """May one more trial start?"""
        with self.lock:
            if self.stopped or (self.deadline is not None and time.monotonic() >= self.deadline):
                return False
            if self.left is not None:
                if self.left <= 0:
                    return False
                self.left -= 1
            return True

    def opened(self, trial: Trial) -> bool:
        """Track a trial until it is told; False if the run stopped while it was being asked."""
        with self.lock:
            if not self.stopped:
                self.open.add(trial)
            return not self.stopped

    def closed(self, trial: Trial) -> None:
        with self.lock:
            self.open.discard(trial)

    def stop(self, error: BaseException | None = None) -> list[Trial]:
        """Stop starting trials; keep the first error; return the trials still open."""
        with self.lock:
            self.stopped = True
            if self.error is None:
                self.error = error
            return list(self.open)


@dataclass(frozen=True)
class Plan:
    """One optimize call's arguments; it travels to worker processes whole."""

    objective: Objective
    n_trials: int | None
    n_workers: int
    timeout: float | None
    catch: Catch
    callbacks: tuple[Callback, ...]
    max_failures: int | None = DEFAULT_MAX_FAILURES
    progress: bool = False


def _run_one(study: Study, trial: Trial, plan: Plan, run: _Run) -> None:
    try:
        with trial:
            value = plan.objective(trial)
            if not trial.finished:
                if value is None:
                    raise TypeError("the objective returned None; return a number or tell the trial yourself")
                trial.tell(value)
    except plan.catch:
        log.warning("trial %s of %s failed", trial.number, study.name, exc_info=True)
    except Exception as error:  # told failed on the way out of `with trial`
        run.failed(study.name, trial, error)
    else:
        run.succeeded()


def _worker(study: Study, plan: Plan, run: _Run) -> None:
    try:
        while run.take():
            trial = study.ask()
            if not run.opened(trial):
                trial.fail("the run stopped before this trial started")
                return
            try:
                _run_one(study, trial, plan, run)
            finally:
                run.closed(trial)
                if trial.result is not None:  # interrupted trials too: they were told failed
                    for callback in plan.callbacks:
                        callback(study, trial.result)
    except BaseException as exc:  # KeyboardInterrupt included: the caller re-raises it
        run.stop(exc)


def _in_threads(study: Study, plan: Plan) -> None:
    run = _Run(plan.n_trials, plan.timeout, plan.max_failures)
    progress = None
    if plan.progress:
        progress = Progress(plan.n_trials, lambda: run.running, sys.stderr)
        plan = replace(plan, callbacks=(*plan.callbacks, progress.told))
    try:
        _threads(study, plan, run)
    finally:
        if progress is not None:
            progress.finish()
    if run.error is not None:
        raise run.error


def _threads(study: Study, plan: Plan, run: _Run) -> None:
    if plan.n_workers == 1:
        # In the calling thread, so that Ctrl-C interrupts the objective itself.
        _worker(study, plan, run)
    else:
        threads = [
            threading.Thread(target=_worker, args=(study, plan, run), daemon=True) for _ in range(plan.n_workers)
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except KeyboardInterrupt as exc:
            # Threads cannot be interrupted: tell their trials failed now and leave them to finish.
            for trial in run.stop(exc):
                trial.fail_quietly(exc)


def _process_main(settings: ClientSettings, name: str, plan: Plan) -> None:
    try:
        with settings.connect() as client:
            _in_threads(client.study(name), plan)
    except KeyboardInterrupt:
        sys.exit(130)  # the trial was told failed; the parent reports the interruption


def _in_processes(study: Study, plan: Plan) -> None:
    try:
        pickle.dumps(plan)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise TypeError(
            "optimize(processes=True) sends the objective and the callbacks to other processes, so they must "
            f"be picklable: define them at module level (not a lambda, a closure or a bound method of an "
            f"object holding locks or sockets), or use threads (processes=False). Pickling failed: {exc}"
        ) from exc
    settings = study.client.settings
    if settings is None:
        raise ValueError("optimize(processes=True) needs a client that reaches the server over the network")
    # Each process takes its share of n_trials, so the processes share nothing but the server.
    shares: list[int | None] = [None] * plan.n_workers
    if plan.n_trials is not None:
        n, k = plan.n_trials, plan.n_workers
        shares = [n // k + (i < n % k) for i in range(k)]
    context = multiprocessing.get_context("spawn")  # fork would copy the client's threads and sockets
    processes = [
        context.Process(
            target=_process_main,
            args=(settings, study.name, replace(plan, n_trials=share, n_workers=1, progress=False)),
        )
        for share in shares
        if share != 0
    ]
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join()
    except KeyboardInterrupt:
        # A Ctrl-C at a terminal reached the processes too; a signal to this process alone did not.
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGINT)
        for process in processes:
            process.join()
        raise
    failed = [process.exitcode for process in processes if process.exitcode]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(processes)} worker processes failed (exit codes {failed})")


def optimize(study: Study, plan: Plan, processes: bool) -> None:
    if plan.n_workers < 1:
        raise ValueError("n_workers must be at least 1")
    (_in_processes if processes else _in_threads)(study, plan)
