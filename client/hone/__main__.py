"""`python -m hone`: the `hone` command, where its script is not on PATH."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
