"""Lua scripts, loaded from lua/*.lua and registered once per Redis client."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from redis.commands.core import Script

LUA_DIR = Path(__file__).with_name("lua")


@cache
def source(name: str) -> str:
    """The script with the shared helpers of _prelude.lua in front."""
    return (LUA_DIR / "_prelude.lua").read_text() + "\n" + (LUA_DIR / f"{name}.lua").read_text()


class Scripts:
    """Every script, registered on one client: `scripts.tell(keys=[...], args=[...])`."""

    advance: Script
    ask: Script
    commit: Script
    create: Script
    delete: Script
    enqueue: Script
    expire: Script
    heartbeat: Script
    import_begin: Script
    import_chunk: Script
    import_publish: Script
    note: Script
    report: Script
    set_study_field: Script
    tell: Script
    top: Script

    def __init__(self, client: Any) -> None:
        for name in self.__annotations__:
            setattr(self, name, client.register_script(source(name)))
