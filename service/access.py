"""API tokens: who may read, write or administer which studies.

Tokens come from HONE_TOKENS (JSON) or HONE_TOKENS_FILE (a JSON file), a list of
`{"name": "ci", "token": "..." | "sha256": "<hex>", "scopes": ["write"], "prefixes": ["team-a-"]}`.
Scopes nest: admin (create, delete) includes write (ask, tell, report, heartbeat, hand controls),
which includes read. With no tokens configured the service is open.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from .domain.errors import Forbidden, Unauthenticated


class Scope(IntEnum):
    READ = 1
    WRITE = 2
    ADMIN = 3


@dataclass(frozen=True)
class Token:
    name: str
    digest: bytes  # sha256 of the secret: the secret itself is never kept
    scope: Scope
    prefixes: tuple[str, ...]  # empty: every study

    def covers(self, study: str) -> bool:
        return not self.prefixes or study.startswith(self.prefixes)


def parse_tokens(text: str) -> tuple[Token, ...]:
    """Parse and check the token list; raises ValueError naming the broken entry."""
    entries = json.loads(text)
    if not isinstance(entries, list):
        raise ValueError("tokens must be a JSON list of objects")
    tokens = []
    for i, entry in enumerate(entries):
        tokens.append(_parse_entry(i, entry))
    names = [t.name for t in tokens]
    if len(set(names)) != len(names):
        raise ValueError("token names must be unique")
    return tuple(tokens)


def _parse_entry(i: int, entry: Any) -> Token:
    where = f"token #{i}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object")
    unknown = set(entry) - {"name", "token", "sha256", "scopes", "prefixes"}
    if unknown:
        raise ValueError(f"{where} has unknown fields {sorted(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where} needs a name")
    if ("token" in entry) == ("sha256" in entry):
        raise ValueError(f"token {name!r} needs exactly one of token or sha256")
    if "token" in entry:
        secret = entry["token"]
        if not isinstance(secret, str) or len(secret) < 16:
            raise ValueError(f"token {name!r}: a secret needs at least 16 characters")
        digest = hashlib.sha256(secret.encode()).digest()
    else:
        digest = bytes.fromhex(entry["sha256"])
        if len(digest) != 32:
            raise ValueError(f"token {name!r}: sha256 must be 64 hex digits")
    scopes = entry.get("scopes")
    if not isinstance(scopes, list) or not scopes or not all(s in ("read", "write", "admin") for s in scopes):
        raise ValueError(f"token {name!r}: scopes must be a non-empty list of read, write, admin")
    prefixes = entry.get("prefixes", [])
    if not isinstance(prefixes, list) or not all(isinstance(p, str) and p for p in prefixes):
        raise ValueError(f"token {name!r}: prefixes must be a list of non-empty strings")
    return Token(name, digest, max(Scope[s.upper()] for s in scopes), tuple(prefixes))


class AccessPolicy:
    def __init__(self, tokens: Sequence[Token]) -> None:
        self.tokens = tuple(tokens)

    @property
    def open(self) -> bool:
        return not self.tokens

    def authenticate(self, secret: str | None) -> Token | None:
        """The token with this secret. Every configured digest is compared, in constant time."""
        if self.open:
            return None
        if not secret:
            raise Unauthenticated("this service needs an API token: send Authorization: Bearer <token>")
        presented = hashlib.sha256(secret.encode()).digest()
        found = None
        for token in self.tokens:
            if hmac.compare_digest(presented, token.digest):
                found = token
        if found is None:
            raise Unauthenticated("the API token is not valid")
        return found

    def authorize(self, secret: str | None, scope: Scope, study: str | None = None) -> Token | None:
        token = self.authenticate(secret)
        if token is None:
            return None
        if token.scope < scope:
            raise Forbidden(f"token {token.name!r} lacks the {scope.name.lower()} scope")
        if study is not None and not token.covers(study):
            raise Forbidden(f"token {token.name!r} may not use study {study!r}")
        return token

    def prefixes(self, token: Token | None) -> tuple[str, ...]:
        """The name prefixes of the studies a token may see; empty: every study."""
        return () if token is None else token.prefixes
