"""Clients nobody here wrote, made from the service's own /openapi.json at test time, against real gunicorn.

- Python: openapi-python-client generates a package into a temporary directory; it creates a
  study, asks, tells, reads the best trial and pages the trials, with a bearer token.
- TypeScript: tests/ts-worker (package.json + package-lock.json, installed with `npm ci`) types a
  worker with openapi-typescript and openapi-fetch; it must compile under `tsc --strict` and
  complete a study on Node 20.

Nothing generated is committed: a change to the document that breaks a generated client fails here.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .servers import ROOT, Gunicorn

SECRET = "generated-client-secret-0123456789"
TOKENS = json.dumps([{"name": "generated", "token": SECRET, "scopes": ["admin"]}])
TS_WORKER = ROOT / "tests" / "ts-worker"
NODE_MAJOR = 20
DEADLINE = 600  # seconds for one npm, compiler or worker step on a shared two-core machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    with Gunicorn({"HONE_DATA_DIR": str(tmp_path_factory.mktemp("data")), "HONE_TOKENS": TOKENS}) as server:
        yield server


@pytest.fixture(scope="module")
def document(server: Gunicorn, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("openapi") / "openapi.json"
    path.write_text(httpx.get(f"{server.url}/openapi.json").raise_for_status().text)
    return path


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-5000:]}\n{done.stderr[-5000:]}"
    return done.stdout


# -- Python, by openapi-python-client ---------------------------------------------------------


@pytest.fixture(scope="module")
def generated(document: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    out = tmp_path_factory.mktemp("generated")
    config = out / "config.json"
    config.write_text(json.dumps({"package_name_override": "hone_generated", "post_hooks": []}))
    generator = str(Path(sys.executable).with_name("openapi-python-client"))
    output = run(
        [generator, "generate", "--path", str(document), "--meta", "none", "--config", str(config),
         "--output-path", str(out / "hone_generated")],
        cwd=out,
    )  # fmt: skip
    assert "Warning" not in output and "Unable to" not in output, output  # every schema and operation generated
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("hone_generated")
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == "hone_generated" or m.startswith("hone_generated.")]:
            del sys.modules[name]


def test_a_generated_python_client_runs_a_study(server: Gunicorn, generated: Any) -> None:
    with generated.AuthenticatedClient(base_url=server.url, token=SECRET) as client:  # closed: no idle keep-alive
        run_a_study(client)


def run_a_study(client: Any) -> None:
    from hone_generated.api.studies import create_study, get_study
    from hone_generated.api.trials import ask_trials, get_best_trial, list_trials, tell_trial
    from hone_generated.models import AskBody, StudyBody, TellBody, TellBodyState, Trial, TrialList, TrialState

    space = [
        {"name": "lr", "type": "float", "low": 1e-4, "high": 1, "scale": "log"},
        {"name": "layers", "type": "int", "low": 1, "high": 4},
        {"name": "optimizer", "type": "categorical", "choices": ["sgd", "adam"]},
    ]
    created = create_study.sync_detailed(
        "generated", client=client, body=StudyBody.from_dict({"space": space, "seed": 3}), idempotency_key="create-1"
    )
    assert created.status_code == 201
    assert created.parsed.space[0].name == "lr" and created.parsed.best is None

    for _ in range(7):
        asked = ask_trials.sync("generated", client=client, body=AskBody(count=1, worker="generated"))
        (trial,) = asked.trials
        assert isinstance(trial, Trial) and trial.state is TrialState.RUNNING
        value = float(trial.params["lr"]) * trial.params["layers"]
        told = tell_trial.sync(
            "generated", trial.number, client=client, body=TellBody(state=TellBodyState.COMPLETE, value=value)
        )
        assert told.state is TrialState.COMPLETE and told.value == value

    best = get_best_trial.sync("generated", client=client)
    study = get_study.sync("generated", client=client)
    assert isinstance(study.best, Trial) and study.best.number == best.number
    assert study.counts.complete == 7

    numbers: list[int] = []
    cursor = None
    while True:
        page = list_trials.sync("generated", client=client, limit=3, cursor=cursor)
        assert isinstance(page, TrialList)
        numbers += [trial.number for trial in page.trials]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert numbers == list(range(7))
    assert min((trial.value, trial.number) for trial in list_trials.sync("generated", client=client).trials) == (
        best.value,
        best.number,
    )


def test_a_generated_python_client_gets_the_error_shape(server: Gunicorn, generated: Any) -> None:
    from hone_generated.api.studies import get_study
    from hone_generated.models import Error

    with generated.AuthenticatedClient(server.url, token=SECRET) as client:
        missing = get_study.sync_detailed("no-such-study", client=client)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, Error) and missing.parsed.error.code == "study_not_found"
    with generated.Client(server.url) as anonymous_client:
        anonymous = get_study.sync_detailed("generated", client=anonymous_client)
    assert anonymous.status_code == 401 and anonymous.parsed.error.code == "unauthorized"


# -- TypeScript, by openapi-typescript and openapi-fetch --------------------------------------


def test_a_typescript_worker_typed_from_the_document_completes_a_study(
    server: Gunicorn, document: Path, tmp_path: Path
) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node.js 20 and npm are needed (.ci/run installs them)"
    assert run([node, "--version"], tmp_path).startswith(f"v{NODE_MAJOR}."), "the worker is tested on Node 20"
    for name in ("package.json", "package-lock.json", "tsconfig.json", "worker.ts"):
        shutil.copy(TS_WORKER / name, tmp_path / name)
    shutil.copy(document, tmp_path / "openapi.json")
    run([npm, "ci", "--no-audit", "--no-fund"], tmp_path)
    run([npm, "run", "types"], tmp_path)
    run([npm, "run", "build"], tmp_path)  # tsc --strict: the worker agrees with the document

    env = {**os.environ, "HONE_URL": server.url, "HONE_TOKEN": SECRET, "HONE_STUDY": "typescript", "TRIALS": "6"}
    best = json.loads(run([node, "build/worker.js"], tmp_path, env).splitlines()[-1])
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {SECRET}"}) as api:
        study = api.get("/v1/studies/typescript").json()
    assert study["counts"]["complete"] == 6
    assert best == {"number": study["best"]["number"], "state": "complete", "value": study["best"]["value"]}
