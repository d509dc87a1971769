"""Panda mode through the Python client: reports and pruning, curves, enqueue, pause, notes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hone
import pytest

from .client_helpers import SPACE, Tap, client_for


@pytest.fixture
def client(app: Any) -> Iterator[hone.Client]:
    with client_for(Tap(app)) as client:
        yield client


def test_report_returns_the_pruners_verdict_and_prune_keeps_the_last_value(client: hone.Client) -> None:
    study = client.study("s", space=SPACE, seed=7, pruner={"name": "median", "min_trials": 1})
    assert study.info().pruner == {"name": "median", "warmup_steps": 0, "min_trials": 1}
    good, bad = study.ask(2)
    assert good.report(1, 0.1) is False
    assert bad.report(1, 0.9) is True
    told = bad.prune()
    assert told.state == hone.TrialState.PRUNED and told.value == 0.9
    good.tell(0.05)
    assert study.curves([good.number, bad.number]) == {good.number: [(1, 0.1)], bad.number: [(1, 0.9)]}


def test_enqueue_pause_resume_and_notes(client: hone.Client) -> None:
    study = client.study("s", space=SPACE, seed=7)
    wanted = {"lr": 0.01, "beta": 0.99, "layers": 2, "optimizer": "adam"}
    assert len(study.enqueue(wanted)) == 1 and study.info().queued == 1
    with study.ask() as trial:
        assert dict(trial.params) == wanted and trial.record.source == "enqueued"
        trial.tell(1.0)
    assert study.pause().state == "paused"
    with pytest.raises(hone.Conflict) as paused:
        study.ask()
    assert paused.value.code == "study_paused"
    assert study.resume().state == "active"
    study.note("lr above 0.1 diverges")
    trial = study.ask()
    study.note("slow node", number=trial.number)
    assert study.info().note == "lr above 0.1 diverges"
    assert study.trial(trial.number).note == "slow node"
    trial.tell(2.0)
