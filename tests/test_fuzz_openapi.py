"""schemathesis, run as its users run it, against real gunicorn: every default check, every phase
(examples, coverage, fuzzing, and stateful runs that follow the document's links: create -> ask ->
tell -> get trial), and it must find nothing.

Two runs: one with names and numbers as generated (so rejections of bad names and unknown
studies are exercised), one with every path aimed at a live study with running and finished
trials (so generated calls reach past the 404s). tests/fuzz_hooks.py gives schema-valid study
bodies a valid space, so creates succeed and their links are followed. Cost is bounded by
EXAMPLES per operation and phase: about a minute per run on the two-core CI machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from .fuzz_hooks import VALID_SPACE
from .servers import ROOT, Gunicorn

EXAMPLES = 20  # per operation and phase: 21 operations x 4 phases, ~1200 requests a run, about a minute
SEED = 1  # fixed, so a failure in CI reproduces with `st run ... --seed 1`
SECRET = "fuzz-admin-secret-0123456789"
AUTH = {"Authorization": f"Bearer {SECRET}"}
LIVE_STUDY = "fuzz"
# Every check runs; two have their accepted statuses widened, each for a reason of this API.
CONFIG = """
hooks = "tests.fuzz_hooks"

[cache]
enabled = false  # every run starts from nothing, and writes nothing into the checkout

[checks.positive_data_acceptance]
# The schemas state each field's shape; rules between fields live in the domain and answer 422
# by design: low < high, a log scale needs low > 0, a condition names a categorical parent, a
# sampler's options depend on its name, a complete tell needs a value, resume needs a worker,
# order=value lists complete trials only, a cursor must be one the server gave. 414: a valid
# `numbers` list of up to max_page_size trial numbers can exceed gunicorn's limit_request_line.
expected-statuses = ["2xx", "401", "403", "404", "409", "414", "422"]

[checks.negative_data_rejection]
# A request gunicorn refuses for its length (414) or Flask for its size (413) is rejected too,
# before the schema is looked at.
expected-statuses = ["400", "401", "403", "404", "405", "409", "413", "414", "415", "422"]
"""

LIVE_PARAMETERS = f"""
[parameters]
name = "{LIVE_STUDY}"
number = 1
"""


def seed_study(url: str) -> None:
    """A study with running and finished trials; trial 1 stays running until a generated tell."""
    with httpx.Client(base_url=url, headers=AUTH) as api:
        api.put(f"/v1/studies/{LIVE_STUDY}", json={"space": VALID_SPACE, "seed": 1}).raise_for_status()
        trials = api.post(f"/v1/studies/{LIVE_STUDY}/trials/ask", json={"count": 4}).json()["trials"]
        for trial, outcome in zip(trials[::2], ({"state": "complete", "value": 1.5}, {"state": "failed"}), strict=True):
            api.post(f"/v1/studies/{LIVE_STUDY}/trials/{trial['number']}/tell", json=outcome).raise_for_status()


@pytest.mark.parametrize("live_study", [False, True], ids=["any-name", "live-study"])
def test_schemathesis_finds_nothing(tmp_path: Path, live_study: bool) -> None:
    tokens = json.dumps([{"name": "fuzz", "token": SECRET, "scopes": ["admin"]}])
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG + (LIVE_PARAMETERS if live_study else ""))
    with Gunicorn({"HONE_DATA_DIR": str(tmp_path / "data"), "HONE_TOKENS": tokens}, workers=1) as server:
        if live_study:
            seed_study(server.url)
        run = run_schemathesis(config, f"{server.url}/openapi.json")
    assert run.returncode == 0, run.stdout[-20_000:]
    assert " passed" in run.stdout and "Stateful" in run.stdout


def run_schemathesis(config: Path, schema_url: str) -> subprocess.CompletedProcess[str]:
    command: list[Any] = [
        Path(sys.executable).with_name("schemathesis"),
        "--config-file",
        config,
        "run",
        schema_url,
        "--header",
        f"Authorization: Bearer {SECRET}",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--generation-database",
        "none",
        "--no-color",
        "--workers",
        1,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # for the hooks module
    return subprocess.run(
        [str(part) for part in command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
