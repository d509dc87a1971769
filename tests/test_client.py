"""The Python client against the real app in process: studies, ask/tell, reading, leases, optimize."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hone
import pandas
import pytest

from .client_helpers import SPACE, Tap, client_for, loss

DEADLINE = 60.0  # seconds to wait for something the client does in the background


@pytest.fixture
def client(app: Any) -> Iterator[hone.Client]:
    with client_for(Tap(app)) as client:
        yield client


@pytest.fixture
def study(client: hone.Client) -> hone.Study:
    return client.study("s", space=SPACE, seed=7)


def wait_until(condition: Any) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        time.sleep(0.05)


# -- studies ----------------------------------------------------------------------------------


def test_study_gets_or_creates_so_every_worker_runs_the_same_line(client: hone.Client) -> None:
    first = client.study("mnist", space=SPACE, direction="minimize", sampler="random", seed=7)
    again = client.study("mnist", space=SPACE, direction="minimize", sampler={"name": "random"}, seed=7)
    info = again.info()
    assert info.name == first.name == "mnist"
    assert [p["name"] for p in info.space] == ["lr", "beta", "layers", "optimizer", "momentum"]
    assert info.space[1]["scale"] == "reverse_log"
    assert info.space[4]["condition"] == {"param": "optimizer", "in": ["sgd"]}
    assert info.seed == 7 and info.direction == "minimize" and info.best is None
    assert info.counts["total"] == 0
    assert client.study("mnist").name == "mnist"  # without a space: the study must exist

    with pytest.raises(hone.Conflict) as exists:
        client.study("mnist", space=SPACE, seed=7, exist_ok=False)
    assert exists.value.code == "study_exists"


def test_a_different_spec_is_a_conflict_naming_the_differences(client: hone.Client) -> None:
    client.study("mnist", space=SPACE, seed=7)
    with pytest.raises(hone.Conflict) as conflict:
        client.study("mnist", space=[*SPACE[:2], hone.Int("layers", 1, 8), *SPACE[3:]], seed=7)
    error = conflict.value
    assert error.status == 409 and error.code == "study_exists"
    assert error.details == {"differences": ["space[layers].high"]}
    assert "layers" in error.message


def test_a_missing_study_is_not_found(client: hone.Client) -> None:
    with pytest.raises(hone.NotFound) as missing:
        client.study("nope")
    assert missing.value.code == "study_not_found" and missing.value.status == 404


def test_study_options_without_a_space_are_refused(client: hone.Client) -> None:
    client.study("mnist", space=SPACE)
    with pytest.raises(ValueError, match="direction, seed describe a study to create"):
        client.study("mnist", direction="maximize", seed=3)


def test_a_broken_space_carries_the_servers_rule(client: hone.Client) -> None:
    with pytest.raises(hone.InvalidRequest) as invalid:
        client.study("s", space=[hone.Float("lr", 0, 1, scale="log")])
    error = invalid.value
    assert (error.status, error.code) == (422, "invalid_space")
    assert error.details == {"param": "lr", "rule": "log_positive"}
    assert isinstance(error, hone.APIError) and isinstance(error, hone.HoneError)


def test_every_form_of_a_space_is_the_same_space(client: hone.Client, tmp_path: Path) -> None:
    client.study("s", space=SPACE, seed=7)
    as_dicts = [p.to_dict() for p in SPACE]
    by_name = {p["name"]: {k: v for k, v in p.items() if k != "name"} for p in as_dicts}
    (tmp_path / "space.json").write_text(json.dumps(as_dicts))
    # YAML as people write it: 1e-4 without a dot is a number here, not PyYAML's string.
    (tmp_path / "space.yaml").write_text(
        "lr: {type: float, low: 1e-4, high: 1, scale: log}\n"
        "beta: {type: float, low: 0.9, high: 0.999, scale: reverse_log}\n"
        "layers: {type: int, low: 1, high: 4}\n"
        "optimizer: {type: categorical, choices: [sgd, adam]}\n"
        "momentum: {type: float, low: 0.5, high: 0.99, condition: {param: optimizer, in: [sgd]}}\n"
    )
    for form in (as_dicts, by_name, tmp_path / "space.json", str(tmp_path / "space.yaml")):
        assert client.study("s", space=form, seed=7).name == "s"  # a different space would be a Conflict
    assert hone.load_space(tmp_path / "space.yaml")[0]["low"] == 1e-4


def test_studies_lists_every_study(client: hone.Client) -> None:
    for name in ("b", "a", "c"):
        client.study(name, space=SPACE)
    listed = client.studies()
    assert [s.name for s in listed] == ["a", "b", "c"]
    assert all(isinstance(s, hone.StudyInfo) and s.counts["total"] == 0 for s in listed)


def test_delete(client: hone.Client, study: hone.Study) -> None:
    study.delete()
    with pytest.raises(hone.NotFound):
        study.info()


# -- ask and tell -----------------------------------------------------------------------------


def test_ask_one_or_many_then_tell_fail_and_prune(study: hone.Study) -> None:
    trial = study.ask()
    assert isinstance(trial, hone.Trial) and trial.number == 0
    assert 1e-4 <= trial.params["lr"] <= 1 and ("momentum" in trial.params) == (trial.params["optimizer"] == "sgd")
    assert trial.record.state is hone.TrialState.RUNNING and trial.record.worker == study.client.worker
    told = trial.tell(0.5)
    assert told.state is hone.TrialState.COMPLETE and told.value == 0.5 and trial.result == told

    batch = study.ask(3)
    assert [t.number for t in batch] == [1, 2, 3]
    assert batch[0].fail(ValueError("out of memory")).error == "ValueError: out of memory"
    assert batch[1].fail("diverged").error == "diverged"
    pruned = batch[2].prune(0.9)
    assert pruned.state is hone.TrialState.PRUNED and pruned.value == 0.9
    assert dict(study.info().counts) == {
        "running": 0, "complete": 1, "failed": 2, "pruned": 1, "expired": 0, "total": 4
    }  # fmt: skip


def test_telling_twice_is_harmless_and_telling_differently_is_a_conflict(study: hone.Study) -> None:
    trial = study.ask()
    first = trial.tell(0.25)
    assert trial.tell(0.25) == first
    with pytest.raises(hone.Conflict) as conflict:
        trial.tell(0.5)
    assert conflict.value.code == "trial_finished"
    assert study.tell(trial.number, 0.25).value == 0.25


def test_a_with_block_tells_failed_with_the_exception_and_reraises(study: hone.Study) -> None:
    with pytest.raises(RuntimeError, match="CUDA out of memory"), study.ask() as trial:
        raise RuntimeError("CUDA out of memory")
    failed = study.trial(trial.number)
    assert failed.state is hone.TrialState.FAILED and failed.error == "RuntimeError: CUDA out of memory"

    with study.ask() as told:
        told.tell(1.0)
    assert study.trial(told.number).state is hone.TrialState.COMPLETE

    with study.ask() as forgotten:
        pass
    assert study.trial(forgotten.number).error == "the with block ended without telling a result"


def test_a_trial_asked_elsewhere_is_told_by_number(client: hone.Client, study: hone.Study) -> None:
    number = study.ask().number
    other = client.study("s")
    assert other.fail(number, "killed").error == "killed"
    assert other.trial(number).state is hone.TrialState.FAILED


# -- reading ----------------------------------------------------------------------------------


def test_best_follows_the_direction(client: hone.Client) -> None:
    for direction, expected in (("minimize", 0.1), ("maximize", 0.9)):
        study = client.study(direction, space=SPACE, direction=direction)
        assert study.best is None
        for value in (0.5, 0.1, 0.9):
            study.ask().tell(value)
        best = study.best
        assert best is not None and best.value == expected and best.state is hone.TrialState.COMPLETE


def test_trials_pages_through_every_trial_and_filters_by_state(study: hone.Study) -> None:
    trials = study.ask(7)
    for trial in trials[:5]:
        trial.tell(loss(trial.params))
    trials[5].fail("x")
    listed = list(study.trials(page_size=3))
    assert [t.number for t in listed] == list(range(7))
    assert listed[0].params == trials[0].params and listed[0].value == pytest.approx(loss(trials[0].params))
    assert listed[0].asked_at is not None and listed[0].finished_at is not None
    assert [t.number for t in study.trials(state="running", page_size=2)] == [6]
    assert [t.number for t in study.trials(state=["failed", "running"])] == [5, 6]
    by_value = [t.value for t in study.trials(order="value", page_size=2)]
    assert by_value == pytest.approx(sorted(loss(t.params) for t in trials[:5]))


def test_to_csv_has_one_column_per_param(study: hone.Study, tmp_path: Path) -> None:
    trial = study.ask()
    trial.tell(0.125)
    study.to_csv(tmp_path / "trials.csv")
    header, row = (tmp_path / "trials.csv").read_text().splitlines()
    assert header.split(",")[:3] == ["number", "state", "value"]
    assert header.split(",")[-5:] == ["lr", "beta", "layers", "optimizer", "momentum"]
    assert row.startswith("0,complete,0.125,")


def test_to_pandas(study: hone.Study) -> None:
    for trial in study.ask(3):
        trial.tell(loss(trial.params))
    frame = study.to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame["number"]) == [0, 1, 2] and set(frame["state"]) == {"complete"}
    assert "lr" in frame.columns


# -- leases -----------------------------------------------------------------------------------


def test_an_open_trial_outlives_its_lease_through_heartbeats(client: hone.Client) -> None:
    study = client.study("short", space=SPACE, lease_seconds=3)
    trial = study.ask()
    asked, first_expiry = trial.record.asked_at, trial.record.lease_expires_at
    assert asked is not None and first_expiry is not None
    wait_until(lambda: study.trial(trial.number).lease_expires_at > first_expiry + (first_expiry - asked))
    assert study.trial(trial.number).state is hone.TrialState.RUNNING  # past its first lease, still running
    assert trial.tell(1.0).state is hone.TrialState.COMPLETE


def test_a_heartbeat_that_finds_the_trial_told_elsewhere_stops(client: hone.Client) -> None:
    study = client.study("short", space=SPACE, lease_seconds=3)
    trial = study.ask()
    study.fail(trial.number, "told by someone else")
    wait_until(lambda: trial.lease_lost)
    assert not trial.finished


# -- optimize ---------------------------------------------------------------------------------


def objective(trial: hone.Trial) -> float:
    if trial.params["layers"] == 4:
        raise ValueError("four layers do not fit")
    return loss(trial.params)


def test_optimize_in_threads_runs_exactly_n_trials(study: hone.Study) -> None:
    seen: list[hone.FrozenTrial] = []
    lock = threading.Lock()

    def record(s: hone.Study, trial: hone.FrozenTrial) -> None:
        with lock:
            seen.append(trial)

    study.optimize(objective, n_trials=24, n_workers=3, callbacks=[record], catch=(ValueError,))
    trials = list(study.trials())
    assert [t.number for t in trials] == list(range(24))
    assert sorted(t.number for t in seen) == list(range(24))
    for trial in trials:
        if trial.params["layers"] == 4:
            assert trial.state is hone.TrialState.FAILED and trial.error == "ValueError: four layers do not fit"
        else:
            assert trial.state is hone.TrialState.COMPLETE and trial.value == pytest.approx(loss(trial.params))
    best = study.best
    assert best is not None and best.value == min(t.value for t in trials if t.value is not None)


def broken(trial: hone.Trial) -> float:
    raise KeyError("typo")


def test_an_objective_failing_every_trial_stops_optimize_and_is_raised(study: hone.Study) -> None:
    with pytest.raises(hone.ObjectiveFailed, match=r"after 3 failed trials in a row; the last, trial 2") as stop:
        study.optimize(broken, n_trials=20)
    assert isinstance(stop.value.__cause__, KeyError) and stop.value.error is stop.value.__cause__
    assert (stop.value.study, stop.value.number, stop.value.failures) == (study.name, 2, 3)
    trials = list(study.trials())
    assert [(t.state, t.error) for t in trials] == [(hone.TrialState.FAILED, "KeyError: 'typo'")] * 3


def test_max_failures_sets_how_many_in_a_row(study: hone.Study) -> None:
    with pytest.raises(hone.ObjectiveFailed, match="trial 0"):
        study.optimize(broken, n_trials=20, max_failures=1)  # as Optuna does: the first error stops it
    assert len(list(study.trials())) == 1

    def every_other(trial: hone.Trial) -> float:
        if trial.number % 2:
            raise RuntimeError("odd")
        return 1.0

    study.optimize(every_other, n_trials=8, max_failures=2)  # a success in between resets the count
    assert len(list(study.trials())) == 9


def test_catch_swallows_those_errors_without_stopping(study: hone.Study) -> None:
    study.optimize(broken, n_trials=6, catch=(KeyError,))
    assert [t.state for t in study.trials()] == [hone.TrialState.FAILED] * 6
    with pytest.raises(ValueError, match="at least 1"):
        study.optimize(broken, n_trials=1, max_failures=0)


def test_optimize_shows_progress(study: hone.Study, capsys: pytest.CaptureFixture[str]) -> None:
    study.optimize(lambda trial: 2.5, n_trials=3, show_progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("trial 0 complete: 2.5 | 1/3 done") and "best 2.5 (trial 0)" in lines[0]
    assert any(line.startswith("3/3 done · 3 complete · 0 running · best 2.5") for line in lines)


def test_an_objective_returning_none_fails_its_trial(study: hone.Study) -> None:
    study.optimize(lambda trial: None, n_trials=1)  # type: ignore[arg-type, return-value]
    (only,) = study.trials()
    assert only.state is hone.TrialState.FAILED and "returned None" in (only.error or "")


def test_an_objective_may_tell_its_trial_itself(study: hone.Study) -> None:
    study.optimize(lambda trial: trial.prune(), n_trials=2)  # type: ignore[arg-type, return-value]
    assert [t.state for t in study.trials()] == [hone.TrialState.PRUNED] * 2


def test_a_timeout_already_past_starts_no_trial(study: hone.Study) -> None:
    study.optimize(objective, n_trials=5, timeout=0)
    assert list(study.trials()) == []


def test_processes_need_a_client_that_can_travel(study: hone.Study) -> None:
    with pytest.raises(ValueError, match="over the network"):
        study.optimize(objective, n_trials=1, processes=True)


def test_processes_need_a_picklable_objective_before_any_trial(study: hone.Study) -> None:
    with pytest.raises(TypeError, match="must be picklable: define them at module level"):
        study.optimize(lambda trial: 1.0, n_trials=1, processes=True)
    assert list(study.trials()) == []


def test_to_pandas_without_pandas_names_the_extra(study: hone.Study, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'hone-client\[pandas\]'"):
        study.to_pandas()


# -- configuration ----------------------------------------------------------------------------


def test_url_and_token_come_from_the_environment(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HONE_URL", "http://hone.test")
    monkeypatch.setenv("HONE_TOKEN", "s3cret")
    tap = Tap(app)
    with hone.Client(transport=tap) as client:  # no URL given
        assert client.url == "http://hone.test"
        assert client.studies() == []
    assert tap.requests[0].headers["Authorization"] == "Bearer s3cret"
    assert tap.requests[0].headers["User-Agent"] == f"hone-client/{hone.__version__}"

    monkeypatch.delenv("HONE_TOKEN")
    with hone.Client(transport=tap) as client:
        client.studies()
    assert "Authorization" not in tap.requests[-1].headers
