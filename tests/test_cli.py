"""The `hone` command against a real gunicorn server: every subcommand, and `hone run` end to end."""

from __future__ import annotations

import json
import math
import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hone
import pytest
from hone.cli import main

from .servers import Gunicorn

HONE = str(Path(sys.executable).with_name("hone"))  # the console script the client package installs
DEADLINE = 120.0  # seconds; generous, the machine is shared
SPACE_YAML = """\
- {name: lr, type: float, low: 1e-4, high: 1, scale: log}
- {name: beta, type: float, low: 0.9, high: 0.999, scale: reverse_log}
- {name: optimizer, type: categorical, choices: [sgd, adam]}
"""
# Reads its params three ways and refuses to train if they disagree; prints the value last.
TRAIN = """\
import json, math, os, sys
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
lr, beta = float(args["--lr"]), float(args["--beta"])
params = json.loads(os.environ["HONE_PARAMS"])
if (params["lr"], params["beta"], params["optimizer"]) != (lr, beta, args["--optimizer"]):
    sys.exit("the arguments and HONE_PARAMS disagree")
if (float(os.environ["HONE_PARAM_LR"]), float(os.environ["HONE_PARAM_BETA"])) != (lr, beta):
    sys.exit("the arguments and HONE_PARAM_* disagree")
print("epoch 1: loss 0.9", flush=True)
value = math.log10(lr) ** 2 + (1 - beta)
print(json.dumps({"value": value}) if int(os.environ["HONE_TRIAL"]) % 2 else value)
"""
# Sleeps until stopped; marks when it started and when it was asked to stop.
SLOW = """\
import os, pathlib, signal, sys, time
marks, number = pathlib.Path(sys.argv[1]), os.environ["HONE_TRIAL"]
def stop(signum, frame):
    (marks / f"{number}.stopped").touch()
    sys.exit(143)
signal.signal(signal.SIGTERM, stop)
(marks / f"{number}.started").touch()
time.sleep(300)
"""


def expected(params: dict[str, Any]) -> float:
    return math.log10(params["lr"]) ** 2 + (1 - params["beta"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    with Gunicorn({"HONE_DATA_DIR": str(tmp_path_factory.mktemp("data"))}, workers=1) as server:
        yield server


@pytest.fixture
def url(server: Gunicorn, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HONE_URL", server.url)
    return server.url


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "space.yaml").write_text(SPACE_YAML)
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "slow.py").write_text(SLOW)
    return tmp_path


def hone_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def run(url: str, *argv: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HONE_URL": url}
    return subprocess.run([HONE, *argv], env=env, capture_output=True, text=True, timeout=DEADLINE, **kwargs)


def trials_of(url: str, name: str) -> list[hone.FrozenTrial]:
    with hone.Client(url) as client:
        return list(client.study(name).trials())


# -- the subcommands --------------------------------------------------------------------------


def test_create_show_and_list_studies(url: str, files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = hone_cli(capsys, "create", "cli-a", "--space", str(files / "space.yaml"), "--seed", "7",
                              "--direction", "maximize", "--metadata", '{"team": "vision"}')  # fmt: skip
    created = json.loads(out)
    assert status == 0 and created["name"] == "cli-a" and created["seed"] == 7 and created["direction"] == "maximize"
    assert created["space"][0]["low"] == 1e-4 and created["metadata"] == {"team": "vision"}

    again = hone_cli(capsys, "create", "cli-a", "--space", str(files / "space.yaml"), "--seed", "7",
                     "--direction", "maximize", "--metadata", '{"team": "vision"}')  # fmt: skip
    assert again[0] == 0 and json.loads(again[1])["created_at"] == created["created_at"]

    status, _, err = hone_cli(capsys, "create", "cli-a", "--space", str(files / "space.yaml"), "--seed", "8")
    assert status == 1 and "study_exists" in err and "seed" in err

    assert json.loads(hone_cli(capsys, "show", "cli-a")[1])["counts"]["total"] == 0
    status, out, _ = hone_cli(capsys, "studies")
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "DIRECTION", "STATE", "COMPLETE", "TOTAL", "BEST"]
    assert ["cli-a", "maximize", "active", "0", "0"] in [row.split() for row in rows]
    as_json = [json.loads(line) for line in hone_cli(capsys, "studies", "--json")[1].splitlines()]
    assert "cli-a" in [s["name"] for s in as_json]


def test_a_bad_space_file_is_a_usage_error(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.yaml").write_text("- {name: lr, type: float, low: [\n")
    with pytest.raises(SystemExit) as exit_:
        main(["create", "cli-bad", "--space", str(tmp_path / "broken.yaml")])
    assert exit_.value.code == 2 and "cannot read a space" in capsys.readouterr().err
    (tmp_path / "invalid.json").write_text('[{"name": "lr", "type": "float", "low": 0, "high": 1, "scale": "log"}]')
    status, _, err = hone_cli(capsys, "create", "cli-bad", "--space", str(tmp_path / "invalid.json"))
    assert status == 1 and "invalid_space" in err and "low > 0" in err


STUDY_YAML = """\
# A whole study: what `hone create` and `hone run --space` register.
direction: maximize
sampler: {name: random}
space:
  - {name: lr, type: float, low: 1e-4, high: 1, scale: log}
  - {name: layers, type: int, low: 1, high: 4}
"""


def files_yaml(tmp_path: Path) -> Path:
    (tmp_path / "as-written.yaml").write_text(STUDY_YAML)
    return tmp_path / "as-written.yaml"


@pytest.mark.parametrize("form", ["yaml", "json"])
def test_a_study_file_gives_direction_space_and_sampler(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    path = tmp_path / f"study.{form}"
    path.write_text(STUDY_YAML if form == "yaml" else json.dumps(hone.space.read_document(files_yaml(tmp_path))))
    status, out, _ = hone_cli(capsys, "create", f"cli-file-{form}", "--space", str(path), "--seed", "4")
    created = json.loads(out)
    assert status == 0 and (created["direction"], created["sampler"]["name"], created["seed"]) == (
        "maximize",
        "random",
        4,
    )
    assert [p["name"] for p in created["space"]] == ["lr", "layers"] and created["space"][0]["low"] == 1e-4
    status, _, err = hone_cli(capsys, "create", f"cli-file-{form}", "--space", str(path), "--direction", "minimize")
    assert status == 1 and "study_exists" in err and "direction" in err  # the flag wins over the file

    (tmp_path / "typo.yaml").write_text("direction: maximize\nsapmler: {name: random}\nspace: []\n")
    with pytest.raises(SystemExit):
        main(["create", "cli-typo", "--space", str(tmp_path / "typo.yaml")])
    assert "unknown study fields ['sapmler']" in capsys.readouterr().err


def test_ask_and_tell_from_a_shell_script(url: str, files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hone_cli(capsys, "create", "cli-b", "--space", str(files / "space.yaml"))
    status, out, _ = hone_cli(capsys, "ask", "cli-b")
    trial = json.loads(out)
    assert status == 0 and trial["number"] == 0 and trial["state"] == "running" and "lr" in trial["params"]
    told = json.loads(hone_cli(capsys, "tell", "cli-b", "0", "0.25")[1])
    assert told["state"] == "complete" and told["value"] == 0.25

    batch = [json.loads(line) for line in hone_cli(capsys, "ask", "cli-b", "-n", "3")[1].splitlines()]
    assert [t["number"] for t in batch] == [1, 2, 3]
    assert json.loads(hone_cli(capsys, "tell", "cli-b", "1", "--failed", "CUDA out of memory")[1])["error"] == (
        "CUDA out of memory"
    )
    assert json.loads(hone_cli(capsys, "tell", "cli-b", "2", "--failed")[1])["state"] == "failed"
    pruned = json.loads(hone_cli(capsys, "tell", "cli-b", "3", "0.75", "--pruned")[1])
    assert (pruned["state"], pruned["value"]) == ("pruned", 0.75)

    status, _, err = hone_cli(capsys, "tell", "cli-b", "4")
    assert status == 2 and "give a VALUE" in err
    status, _, err = hone_cli(capsys, "tell", "cli-b", "0", "0.5")
    assert status == 1 and "trial_finished" in err


def test_best_and_trials_in_every_format(url: str, files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hone_cli(capsys, "create", "cli-c", "--space", str(files / "space.yaml"))
    status, _, err = hone_cli(capsys, "best", "cli-c")
    assert status == 1 and "no complete trial" in err
    with hone.Client(url) as client:
        study = client.study("cli-c")
        for value, trial in zip((0.5, 0.125, 0.75), study.ask(3), strict=True):
            trial.tell(value)
        study.ask().fail("diverged")

    assert json.loads(hone_cli(capsys, "best", "cli-c")[1])["value"] == 0.125
    header, *rows = hone_cli(capsys, "trials", "cli-c")[1].splitlines()
    assert header.split() == ["NUMBER", "STATE", "VALUE", "PARAMS", "ERROR"]
    assert [row.split()[:3] for row in rows[:3]] == [["0", "complete", "0.5"], ["1", "complete", "0.125"],
                                                      ["2", "complete", "0.75"]]  # fmt: skip
    assert rows[3].split()[:2] == ["3", "failed"] and rows[3].endswith("diverged")
    listed = hone_cli(capsys, "trials", "cli-c", "--state", "failed", "--json")[1]
    failed = [json.loads(line) for line in listed.splitlines()]
    assert [t["number"] for t in failed] == [3]
    csv_header, *csv_rows = hone_cli(capsys, "trials", "cli-c", "--csv", "--state", "complete,failed")[1].splitlines()
    assert csv_header.endswith(",lr,beta,optimizer") and len(csv_rows) == 4


def test_the_url_flag_wins_over_the_environment(server: Gunicorn, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("HONE_URL", "http://127.0.0.1:9")  # the discard port: nothing answers there
    assert hone_cli(capsys, "--url", server.url, "studies")[0] == 0
    monkeypatch.setenv("HONE_URL", server.url)
    assert hone_cli(capsys, "studies")[0] == 0


# -- hone run ---------------------------------------------------------------------------------


def test_run_substitutes_params_and_reads_each_value(url: str, files: Path) -> None:
    train = [sys.executable, str(files / "train.py"), "--lr", "{lr}", "--beta", "{beta}", "--optimizer", "{optimizer}"]
    options = ["--space", str(files / "space.yaml"), "--seed", "5", "-n", "6", "-j", "2", "--logs", str(files / "logs")]
    done = run(url, "run", "cli-run", *options, "--", *train)
    assert done.returncode == 0, done.stderr
    trials = trials_of(url, "cli-run")
    assert [t.number for t in trials] == list(range(6))
    for trial in trials:
        assert trial.state is hone.TrialState.COMPLETE, trial.error
        assert trial.value == pytest.approx(expected(dict(trial.params)))
    assert "6/6 done" in done.stderr and "6 complete" in done.stderr and "best params:" in done.stderr
    assert (files / "logs" / "0.out").read_text().startswith("epoch 1: loss 0.9")


def test_a_failing_command_fails_its_trial_with_the_end_of_stderr(url: str, files: Path) -> None:
    crash = "import sys; print('loading data', file=sys.stderr); sys.exit('CUDA out of memory')"
    space = str(files / "space.yaml")
    done = run(url, "run", "cli-fail", "--space", space, "-n", "3", "--", sys.executable, "-c", crash)
    assert done.returncode == 1  # no trial of this run completed
    trials = trials_of(url, "cli-fail")
    assert len(trials) == 3
    for trial in trials:
        assert trial.state is hone.TrialState.FAILED
        assert trial.error is not None and "exit code 1" in trial.error
        assert trial.error.rstrip().endswith("loading data\nCUDA out of memory")
    assert "3 failed" in done.stderr

    options_without_space = run(url, "run", "cli-fail", "--seed", "3", "--", sys.executable, "-c", "print(1)")
    assert options_without_space.returncode == 2 and "give its --space too" in options_without_space.stderr
    no_value = run(url, "run", "cli-fail", "-n", "1", "--", sys.executable, "-c", "print('done')")
    assert no_value.returncode == 1
    assert "is not a number" in (trials_of(url, "cli-fail")[3].error or "")


def test_a_command_failing_every_trial_stops_the_run(url: str, files: Path) -> None:
    crash = "import sys; sys.exit('CUDA out of memory')"
    space = str(files / "space.yaml")
    done = run(url, "run", "cli-streak", "--space", space, "-n", "20", "-j", "2", "--", sys.executable, "-c", crash)
    assert done.returncode == 1
    assert "hone: error: stopped after 3 failed trials in a row; the last, trial" in done.stderr
    assert "CUDA out of memory" in done.stderr and "--max-failures" in done.stderr
    told = trials_of(url, "cli-streak")
    assert 3 <= len(told) <= 4  # the second command may have started before the third failure
    more = run(url, "run", "cli-streak", "-n", "20", "--max-failures", "5", "--", sys.executable, "-c", crash)
    assert more.returncode == 1 and len(trials_of(url, "cli-streak")) == len(told) + 5


def test_unknown_placeholders_stop_the_run_before_any_trial(url: str, files: Path) -> None:
    space = str(files / "space.yaml")
    done = run(url, "run", "cli-typo", "--space", space, "--", sys.executable, "train.py", "--lr", "{learning_rate}")
    assert done.returncode == 2
    assert "the command names {learning_rate}, which the study 'cli-typo' does not have" in done.stderr
    assert "its params are lr, beta, optimizer" in done.stderr
    assert trials_of(url, "cli-typo") == []


def test_run_on_a_missing_study_says_how_to_create_it(url: str) -> None:
    done = run(url, "run", "cli-nowhere", "--", sys.executable, "-c", "print(1)")
    assert done.returncode == 1
    assert "there is no study 'cli-nowhere'" in done.stderr
    assert "hone create cli-nowhere --space study.yaml" in done.stderr and "--space" in done.stderr


def test_ctrl_c_stops_the_commands_and_fails_their_trials(url: str, files: Path) -> None:
    marks = files / "marks"
    marks.mkdir()
    process = subprocess.Popen(
        [HONE, "run", "cli-stop", "--space", str(files / "space.yaml"), "-n", "10", "-j", "2",
         "--", sys.executable, str(files / "slow.py"), str(marks)],
        env={**os.environ, "HONE_URL": url}, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + DEADLINE
        while len(list(marks.glob("*.started"))) < 2:
            assert time.monotonic() < deadline and process.poll() is None, "two commands did not start"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=DEADLINE)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "stopped by SIGINT" in stderr and "2 failed" in stderr
    trials = trials_of(url, "cli-stop")
    assert [t.state for t in trials] == [hone.TrialState.FAILED] * 2
    assert all(t.error == "Interrupted: stopped by SIGINT" for t in trials)
    assert sorted(p.name for p in marks.glob("*.stopped")) == ["0.stopped", "1.stopped"]


def test_on_a_terminal_run_keeps_one_status_line(url: str, files: Path) -> None:
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [HONE, "run", "cli-tty", "--space", str(files / "space.yaml"), "-n", "2",
             "--", sys.executable, "-c", "print(0.5)"],
            env={**os.environ, "HONE_URL": url}, stderr=terminal, stdout=subprocess.DEVNULL, timeout=DEADLINE,
        )  # fmt: skip
        os.set_blocking(controller, False)
        shown = os.read(controller, 65536).decode()
    finally:
        os.close(controller)
        os.close(terminal)
    assert done.returncode == 0
    assert "\r\x1b[K1/2 done · 1 complete" in shown and "\r\x1b[K2/2 done · 2 complete" in shown
    assert "best 0.5" in shown and "trial 0 complete" not in shown  # no per-trial lines on a terminal
