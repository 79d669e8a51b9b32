"""The API's token store: a token is shown once, stored as a digest, revoked by name."""

from __future__ import annotations

from typing import Any

import pytest

from worker.errors import ValidationError
from worker.redaction import redact_text
from worker.tokens import TOKEN_PREFIX, TokenStore, match, new_token, token_digest

pytestmark = pytest.mark.integration


def test_tokens_are_random_and_only_their_digest_is_kept(client: Any) -> None:
    store = TokenStore(client.redis, client.keys)

    first, second = store.create("alpha"), store.create("beta")

    assert first != second
    assert first.startswith(TOKEN_PREFIX)
    stored = client.redis.hgetall(client.keys.api_tokens)
    assert sorted(stored) == [b"alpha", b"beta"]
    assert token_digest(first).encode() in stored[b"alpha"]
    assert first.encode() not in b"".join(stored.values())
    assert [entry["name"] for entry in store.list()] == ["alpha", "beta"]


def test_a_token_opens_only_as_long_as_it_is_stored(client: Any) -> None:
    store = TokenStore(client.redis, client.keys)
    assert store.verify(new_token()) is None
    assert not store.any()

    token = store.create("ops")

    assert store.any()
    assert store.verify(token) == "ops"
    assert store.verify(token + "x") is None
    assert store.verify(token[:-1]) is None
    assert store.verify(None) is None
    assert store.verify("") is None
    assert store.revoke("ops") is True
    assert store.verify(token) is None
    assert store.revoke("ops") is False


def test_names_are_plain_words_taken_once(client: Any) -> None:
    store = TokenStore(client.redis, client.keys)
    store.create("ci-main_1.2")

    for name in ("", "with space", "x" * 65, "colon:name"):
        with pytest.raises(ValidationError):
            store.create(name)
    with pytest.raises(ValidationError, match="exists"):
        store.create("ci-main_1.2")


def test_match_finds_the_token_among_many_without_a_store() -> None:
    tokens = {f"name-{i}": new_token() for i in range(20)}
    stored = {
        name: f'{{"sha256": "{token_digest(t)}", "created_at": "x"}}' for name, t in tokens.items()
    }

    assert all(match(stored, token) == name for name, token in tokens.items())
    assert match(stored, new_token()) is None
    assert match({}, tokens["name-0"]) is None


def test_a_token_in_any_text_is_redacted() -> None:
    token = new_token()

    assert token[4:] not in redact_text(f"oops, the token was {token}.")
