"""Encryption of API keys at rest with Fernet; several keys allow rotation.

``OPENAI_WORKER_SECRET_KEY`` holds one or more comma-separated Fernet keys. The first
encrypts; every key is tried to decrypt (MultiFernet), so a new key can be put first
while stored configurations are re-encrypted with ``rotate``.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from worker.errors import ConfigurationError


class SecretKeyError(ConfigurationError):
    """``OPENAI_WORKER_SECRET_KEY`` is missing, malformed, or does not fit stored data."""


def generate_secret_key() -> str:
    """A new random Fernet key, as text for ``OPENAI_WORKER_SECRET_KEY``."""
    return Fernet.generate_key().decode("ascii")


class KeyRing:
    """Encrypts with the first key, decrypts with any."""

    def __init__(self, secret_keys: Sequence[str]) -> None:
        if not secret_keys:
            raise SecretKeyError(
                "OPENAI_WORKER_SECRET_KEY is not set: API keys are stored encrypted and "
                "need it. Generate one with `openai-worker secret-key`."
            )
        fernets = []
        for position, key in enumerate(secret_keys, start=1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise SecretKeyError(
                    f"OPENAI_WORKER_SECRET_KEY: key {position} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes; `openai-worker secret-key` makes one)"
                ) from None
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, *, name: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise SecretKeyError(
                f"the API key of configuration {name!r} cannot be decrypted with "
                "OPENAI_WORKER_SECRET_KEY (was it encrypted with a key that is no longer listed?)"
            ) from None

    def rotate(self, token: str, *, name: str) -> str:
        """The token re-encrypted with the first key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise SecretKeyError(
                f"the API key of configuration {name!r} cannot be decrypted for rotation"
            ) from None
