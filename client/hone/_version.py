"""The installed distribution's version, so that it is written in one place: pyproject.toml."""

from __future__ import annotations

from importlib.metadata import version

__version__ = version("hone-client")
