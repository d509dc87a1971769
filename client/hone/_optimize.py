"""The caviar loop behind `Study.optimize`: ask, run the objective, tell; many at once, until a budget runs out."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .models import FrozenTrial
from .trial import Trial

if TYPE_CHECKING:
    from .client import ClientSettings
    from .study import Study

log = logging.getLogger("hone.optimize")

Objective = Callable[[Trial], float]
Callback = Callable[["Study", FrozenTrial], None]
Catch = tuple[type[BaseException], ...]


class _Run:
    """What the worker threads of one optimize call share: the trial budget, the open trials, the first error."""

    def __init__(self, n_trials: int | None, timeout: float | None) -> None:
        self.lock = threading.Lock()
        self.left = n_trials
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.open: set[Trial] = set()
        self.stopped = False
        self.error: BaseException | None = None

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


def _run_one(study: Study, trial: Trial, plan: Plan) -> None:
    try:
        with trial:
            value = plan.objective(trial)
            if not trial.finished:
                if value is None:
                    raise TypeError("the objective returned None; return a number or tell the trial yourself")
                trial.tell(value)
    except plan.catch:
        log.warning("trial %s of %s failed", trial.number, study.name, exc_info=True)


def _worker(study: Study, plan: Plan, run: _Run) -> None:
    try:
        while run.take():
            trial = study.ask()
            if not run.opened(trial):
                trial.fail("the run stopped before this trial started")
                return
            try:
                _run_one(study, trial, plan)
            finally:
                run.closed(trial)
                if trial.result is not None:  # interrupted trials too: they were told failed
                    for callback in plan.callbacks:
                        callback(study, trial.result)
    except BaseException as exc:  # KeyboardInterrupt included: the caller re-raises it
        run.stop(exc)


def _in_threads(study: Study, plan: Plan) -> None:
    run = _Run(plan.n_trials, plan.timeout)
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
    if run.error is not None:
        raise run.error


def _process_main(settings: ClientSettings, name: str, plan: Plan) -> None:
    try:
        with settings.connect() as client:
            _in_threads(client.study(name), plan)
    except KeyboardInterrupt:
        sys.exit(130)  # the trial was told failed; the parent reports the interruption


def _in_processes(study: Study, plan: Plan) -> None:
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
        context.Process(target=_process_main, args=(settings, study.name, replace(plan, n_trials=share, n_workers=1)))
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
