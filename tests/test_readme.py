"""The README's two opening commands are the ones CI and the service actually use."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def opening_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text())[:2]


def test_ci_runs_the_readme_test_command() -> None:
    _, test = opening_commands()
    assert "pytest" in test
    assert test in (ROOT / ".ci" / "run").read_text().splitlines()


def test_the_start_command_serves_the_app_factory_with_the_gunicorn_config() -> None:
    start, _ = opening_commands()
    assert "gunicorn -c service/gunicorn_conf.py 'service.app:create_app()'" in start
    assert "requirements.txt" in start
