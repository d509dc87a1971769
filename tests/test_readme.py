"""The README's two opening commands are the ones CI and the service actually use, and its examples run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import hone

from .servers import Gunicorn

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


def section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    return text[start : text.index("\n## ", start + 1)]


def test_the_shell_walkthrough_then_the_python_example_run_as_written(tmp_path: Path) -> None:
    """The curl commands of "A study from the shell", then the Python example, on one server."""
    shell = [block for block in re.findall(r"```sh\n(.+?)```", section("A study from the shell"), re.DOTALL)]
    (python,) = re.findall(r"```python\n(.+?)```", section("Python client and the `hone` command"), re.DOTALL)
    assert len(shell) == 4 and all("curl" in block for block in shell)
    with Gunicorn({"HONE_DATA_DIR": str(tmp_path / "data")}, workers=1) as server:
        host = server.url.removeprefix("http://")
        for block in shell:
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.replace("localhost:8000", host)],
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
            assert done.returncode == 0 and not done.stdout.startswith('{"error"'), (block, done.stdout)
        example = python.replace("http://127.0.0.1:8000", server.url)
        done = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        with hone.Client(server.url) as client:
            counts = client.study("mnist").info().counts
    assert counts["complete"] == 102 and counts["total"] == 102  # the shell's trial, the with block's, 100 more
    assert (tmp_path / "mnist.csv").read_text().count("\n") == 103
