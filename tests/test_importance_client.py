"""Param importance from the Python client (`study.importance()`) and the shell (`hone importance NAME`),
against gunicorn: the param that decides the objective comes first, and too few trials is a clear error."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import hone
import pytest
from hone.cli import main

from .servers import Gunicorn

SPACE = [
    hone.Float("lr", 1e-5, 1, scale="log"),
    hone.Int("layers", 1, 8),
    hone.Categorical("optimizer", ["sgd", "adam"]),
]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with Gunicorn({"HONE_DATA_DIR": str(tmp_path_factory.mktemp("data"))}, workers=1) as server:
        yield server.url


def fill(url: str, name: str, trials: int) -> None:
    with hone.Client(url) as client:
        study = client.study(name, space=SPACE, sampler="random", seed=5)
        for trial in study.ask(trials):
            trial.tell((math.log10(trial.params["lr"]) + 3) ** 2)


def test_the_client_ranks_the_deciding_param_first(url: str) -> None:
    fill(url, "imp-client", 40)
    with hone.Client(url) as client:
        answer = client.study("imp-client").importance()
    assert next(iter(answer.params)) == "lr"
    assert list(answer.params.values()) == sorted(answer.params.values(), reverse=True)
    assert sum(answer.params.values()) == pytest.approx(1)
    assert (answer.trials, answer.complete, answer.sampled) == (40, 40, False)


def test_the_client_raises_conflict_with_too_few_trials(url: str) -> None:
    fill(url, "imp-few", 3)
    with hone.Client(url) as client, pytest.raises(hone.Conflict) as raised:
        client.study("imp-few").importance()
    assert raised.value.code == "too_few_trials"


def test_hone_importance_prints_a_table_or_json(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HONE_URL", url)
    fill(url, "imp-cli", 30)
    assert main(["importance", "imp-cli"]) == 0
    header, *rows, footer = capsys.readouterr().out.splitlines()
    assert header.split() == ["PARAM", "IMPORTANCE", "R2", "DROP"]
    assert rows[0].split()[0] == "lr" and len(rows) == 3
    assert footer.startswith("from 30 of 30 complete trials: permutation importance")
    assert main(["importance", "imp-cli", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"][0]["param"] == "lr"

    fill(url, "imp-cli-few", 2)
    assert main(["importance", "imp-cli-few"]) == 1
    assert "too_few_trials" in capsys.readouterr().err
