"""The HTTP API's bearer tokens: shown once when created, kept only as a digest, revocable.

A token is 32 random bytes from ``secrets`` behind a recognisable prefix. Redis keeps
only its SHA-256 digest, under the name it was created with, so a copy of Redis opens
nothing. SHA-256 suffices here: slow password hashes protect secrets people choose,
and nobody can guess 256 random bits. A request's token is compared with every stored
digest in constant time, without stopping at the first match, so the time a check
takes tells nothing about any digest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import redis

from worker.connections import reply_text
from worker.errors import ValidationError
from worker.keys import Keys

#: What every token starts with, so one found in a log or a file is recognised (and the
#: redactor blanks text of this shape).
TOKEN_PREFIX = "owk_"  # noqa: S105 - a prefix, not a secret
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def new_token() -> str:
    """A fresh token: the prefix and 32 random bytes, URL-safe base64."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def match(stored: Mapping[Any, Any], offered: str | None) -> str | None:
    """The name of the stored token ``offered`` is, or None.

    ``stored`` is the token hash as Redis returns it (name → record). Every digest is
    compared, in constant time, whatever matched before.
    """
    if not offered:
        return None
    digest = token_digest(offered).encode("ascii")
    found = None
    for name, record in stored.items():
        expected = str(json.loads(reply_text(record)).get("sha256", "")).encode("ascii")
        if hmac.compare_digest(digest, expected) and found is None:
            found = reply_text(name)
    return found


class TokenStore:
    """Create, list and revoke the API's tokens in one Redis hash of the namespace."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.redis = client
        self.key = keys.api_tokens

    def create(self, name: str) -> str:
        """Store a new token under ``name`` and return it: the only time it is seen."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValidationError(
                "a token's name is 1-64 letters, digits, '.', '_' or '-'",
                details={"fields": {"name": ["invalid"]}},
            )
        token = new_token()
        record = {"sha256": token_digest(token), "created_at": _now()}
        if not self.redis.hsetnx(self.key, name, json.dumps(record)):
            raise ValidationError(f"a token named {name!r} exists; revoke it first")
        return token

    def revoke(self, name: str) -> bool:
        """Remove the token ``name``; False when there was none. Takes effect at once."""
        return bool(self.redis.hdel(self.key, name))

    def list(self) -> list[dict[str, str]]:
        """Every token's name and creation time (never a digest), by name."""
        stored = self.redis.hgetall(self.key)
        return [
            {"name": reply_text(name), "created_at": json.loads(reply_text(record))["created_at"]}
            for name, record in sorted(stored.items())
        ]

    def any(self) -> bool:
        """Whether at least one token exists."""
        return bool(self.redis.hlen(self.key))

    def verify(self, offered: str | None) -> str | None:
        """The name of the token ``offered`` is, or None (unknown, revoked or missing)."""
        return match(self.redis.hgetall(self.key), offered)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
