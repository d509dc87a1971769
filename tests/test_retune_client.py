"""Re-tuning through the client and the `hone` command: warm start, export and import."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hone
import pytest

from .client_helpers import SPACE, Tap, client_for, loss
from .servers import Gunicorn
from .test_cli import DEADLINE, HONE, SPACE_YAML


@pytest.fixture
def client(app: Any) -> Iterator[hone.Client]:
    with client_for(Tap(app)) as client:
        yield client


def finished(client: hone.Client, name: str, trials: int = 12) -> hone.Study:
    study = client.study(name, SPACE, sampler="random", seed=3)
    study.optimize(lambda trial: loss(trial.params), trials)
    return study


def test_client_warm_start_by_name_or_with_options(client: hone.Client) -> None:
    old = finished(client, "old")
    best = [t.params for t in sorted(old.trials(), key=lambda t: t.value or 0)[:10]]
    # The re-tune drops momentum and adds weight decay.
    space = [*SPACE[:4], hone.Float("wd", 1e-6, 1e-2, scale="log")]
    new = client.study("new", space, warm_start="old")
    report = new.info().warm_start
    assert report is not None and report["from"] == "old" and report["enqueued"] == 10
    assert report["dropped_params"] == ["momentum"] and report["added_params"] == ["wd"]
    handed = [new.ask() for _ in range(20)]
    assert [t.record.source for t in handed] == ["warm_start", "coarse_to_fine"] * 10  # they alternate
    assert [{k: v for k, v in t.params.items() if k != "wd"} for t in handed[::2]] == [
        {k: v for k, v in p.items() if k != "momentum"} for p in best
    ]
    for trial in handed:
        trial.tell(1.0)

    again = client.study("newer", space, warm_start={"from": "old", "top": 2, "out_of_bounds": "skip"})
    assert again.info().warm_start["enqueued"] == 2
    with pytest.raises(hone.InvalidRequest) as missing:
        client.study("newest", space, warm_start="nope")
    assert missing.value.code == "warm_start_source_not_found"


def test_client_export_then_import_under_a_new_name(client: hone.Client) -> None:
    old = finished(client, "old")
    out = io.BytesIO()
    written = old.export(out)
    assert written == len(out.getvalue()) > 0
    copy = client.import_study("copy", io.BytesIO(out.getvalue()))
    assert copy.info().counts == old.info().counts
    assert [t.params for t in copy.trials()] == [t.params for t in old.trials()]
    with pytest.raises(hone.Conflict) as taken:
        client.import_study("copy", io.BytesIO(out.getvalue()))
    assert taken.value.code == "study_exists"
    lines = out.getvalue().splitlines(keepends=True)
    with pytest.raises(hone.InvalidRequest) as truncated:
        client.import_study("half", io.BytesIO(b"".join(lines[:-3])))
    assert truncated.value.code == "truncated_import"
    with pytest.raises(hone.NotFound):
        client.study("half")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    with Gunicorn({"HONE_DATA_DIR": str(tmp_path_factory.mktemp("data"))}, workers=1) as server:
        yield server


def hone_command(url: str, *argv: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "HONE_URL": url}
    return subprocess.run([HONE, *argv], env=env, capture_output=True, timeout=DEADLINE, **kwargs)


def test_cli_create_from_an_old_study_then_export_and_import(server: Gunicorn, tmp_path: Path) -> None:
    (tmp_path / "space.yaml").write_text(SPACE_YAML)
    space = str(tmp_path / "space.yaml")
    with hone.Client(server.url) as client:
        old = client.study("cli-old", [hone.Float("lr", 1e-4, 1, scale="log")], seed=1)
        old.optimize(lambda trial: abs(trial.params["lr"] - 0.01), 30)

    warm = ("--from", "cli-old", "--top", "4", "--region")
    made = hone_command(server.url, "create", "cli-new", "--space", space, *warm)
    assert made.returncode == 0, made.stderr
    report = json.loads(made.stdout)["warm_start"]
    assert report["enqueued"] == 4 and report["added_params"] == ["beta", "optimizer"]
    assert report["region"]["share"] == 0.25
    refused = hone_command(server.url, "create", "cli-x", "--space", space, "--top", "4")
    assert refused.returncode == 2 and b"--from" in refused.stderr

    exported = hone_command(server.url, "export", "cli-old")
    assert exported.returncode == 0, exported.stderr
    path = tmp_path / "study.ndjson"
    path.write_bytes(exported.stdout)
    with path.open("rb") as stdin:
        imported = hone_command(server.url, "import", "cli-copy", stdin=stdin)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["counts"]["complete"] == 30
    piped = hone_command(server.url, "import", "cli-piped", input=exported.stdout)  # `cat file | hone import`
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["counts"] == json.loads(imported.stdout)["counts"]

    (tmp_path / "cut.ndjson").write_bytes(exported.stdout[: len(exported.stdout) // 2])
    with (tmp_path / "cut.ndjson").open("rb") as stdin:
        cut = hone_command(server.url, "import", "cli-cut", stdin=stdin)
    assert cut.returncode == 1 and b"invalid_import" in cut.stderr
    assert hone_command(server.url, "show", "cli-cut").returncode == 1


def test_cli_import_from_optuna(server: Gunicorn, tmp_path: Path) -> None:
    import optuna

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="legacy", storage=storage, direction="maximize")

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1, log=True)
        layers = trial.suggest_int("layers", 1, 4)
        act = trial.suggest_categorical("act", ["relu", "tanh"])
        for step in range(3):
            trial.report(lr * step, step)
        if trial.number % 5 == 4:
            raise optuna.TrialPruned()
        if trial.number == 7:
            raise RuntimeError("diverged")
        return lr * layers + (act == "relu")

    study.optimize(objective, n_trials=20, catch=(RuntimeError,))
    imported = hone_command(server.url, "import", "from-optuna", "--from-optuna", storage, "legacy")
    assert imported.returncode == 0, imported.stderr
    info = json.loads(imported.stdout)
    assert info["direction"] == "maximize" and info["counts"] == {
        "running": 0, "complete": 15, "failed": 1, "pruned": 4, "expired": 0, "total": 20
    }  # fmt: skip
    assert [p["name"] for p in info["space"]] == ["lr", "layers", "act"]
    assert info["space"][0]["scale"] == "log"
    with hone.Client(server.url) as client:
        moved = client.study("from-optuna")
        assert moved.best is not None and moved.best.value == study.best_value
        # Hone keeps twelve significant digits of a float.
        best = dict(study.best_params)
        assert moved.best.params == {**best, "lr": pytest.approx(best["lr"], rel=1e-11)}
        assert moved.best.source == "optuna"
        assert [t.number for t in moved.trials(state="failed")] == [7]
        lr = study.trials[0].params["lr"]
        assert moved.curves([0])[0] == [(0, 0.0), (1, lr), (2, 2 * lr)]
        moved.ask().tell(1.0)  # and it goes on from there with Hone's sampler
    missing = hone_command(server.url, "import", "nope", "--from-optuna", storage, "no-such-study")
    assert missing.returncode == 1 and b"no-such-study" in missing.stderr
