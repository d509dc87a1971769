"""The client as a package: what it exports, that it is typed, and that it stands apart from the service."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

import hone


def test_all_lists_exactly_the_public_names_sorted() -> None:
    public = {
        name for name, value in vars(hone).items() if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert hone.__all__ == sorted(hone.__all__)
    assert set(hone.__all__) == public | {"__version__"}


def test_the_package_says_it_is_typed() -> None:
    assert (resources.files("hone") / "py.typed").is_file()


def test_importing_the_client_and_the_cli_loads_nothing_of_the_service() -> None:
    code = (
        "import sys, hone, hone.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'service', 'flask', 'redis', 'numpy', 'pandas'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "[]"


def test_the_client_needs_nothing_newer_than_python_3_9() -> None:
    # No 3.9 interpreter runs here, so vermin checks every syntax feature, module and member the
    # client uses against its rule tables; ruff's 3.9 target covers only syntax.
    package = Path(hone.__file__).parent
    vermin = Path(sys.executable).with_name("vermin")  # installed beside this interpreter
    result = subprocess.run(
        [vermin, "--target=3.9-", "--violations", "--no-tips", "--eval-annotations", str(package)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
