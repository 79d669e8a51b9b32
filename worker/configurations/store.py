"""The configuration store: one JSON record per name, the key encrypted.

The store logic is shared; a backend only keeps raw records: ``RedisBackend`` in a
Redis hash for real use, ``MemoryBackend`` for unit tests.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

import redis

from worker.configurations.configuration import Configuration
from worker.configurations.crypto import KeyRing
from worker.connections import reply_text
from worker.errors import ConfigurationError
from worker.keys import Keys
from worker.logs import register_secret


class Backend(Protocol):
    def get(self, name: str) -> str | None: ...
    def put(self, name: str, record: str) -> None: ...
    def delete(self, name: str) -> bool: ...
    def items(self) -> list[tuple[str, str]]: ...


class MemoryBackend:
    """A dict; the stand-in for unit tests."""

    def __init__(self) -> None:
        self.records: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.records.get(name)

    def put(self, name: str, record: str) -> None:
        self.records[name] = record

    def delete(self, name: str) -> bool:
        return self.records.pop(name, None) is not None

    def items(self) -> list[tuple[str, str]]:
        return sorted(self.records.items())


class RedisBackend:
    """One Redis hash (``Keys.configurations``), field per name."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.key = keys.configurations

    def get(self, name: str) -> str | None:
        value = self.client.hget(self.key, name)
        return None if value is None else reply_text(value)

    def put(self, name: str, record: str) -> None:
        self.client.hset(self.key, name, record)

    def delete(self, name: str) -> bool:
        return bool(self.client.hdel(self.key, name))

    def items(self) -> list[tuple[str, str]]:
        raw = self.client.hgetall(self.key)
        return sorted((reply_text(k), reply_text(v)) for k, v in raw.items())


class ConfigurationStore:
    """Saves and loads configurations; the key is encrypted before it leaves memory."""

    def __init__(self, backend: Backend, keyring: KeyRing | None, *, cache_s: float = 0) -> None:
        self.backend = backend
        self.keyring = keyring
        # Workers load the configuration of every job; a short cache saves a Redis round
        # trip and a decryption per job, and changes still arrive within ``cache_s``.
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, Configuration]] = {}

    def _keyring(self) -> KeyRing:
        if self.keyring is None:
            # Listing works without the secret key; anything touching a key does not.
            return KeyRing(())
        return self.keyring

    def save(self, configuration: Configuration) -> None:
        register_secret(configuration.api_key)
        record = configuration.public_dict()
        record["api_key_encrypted"] = self._keyring().encrypt(configuration.api_key)
        self.backend.put(configuration.name, json.dumps(record))

    def load(self, name: str) -> Configuration:
        if self.cache_s > 0:
            cached = self._cache.get(name)
            now = time.monotonic()
            if cached is not None and cached[0] > now:
                return cached[1]
            configuration = self._load(name)
            self._cache[name] = (now + self.cache_s, configuration)
            return configuration
        return self._load(name)

    def _load(self, name: str) -> Configuration:
        raw = self.backend.get(name)
        if raw is None:
            raise ConfigurationError(f"no configuration named {name!r}")
        record = json.loads(raw)
        api_key = self._keyring().decrypt(record.pop("api_key_encrypted"), name=name)
        register_secret(api_key)
        if record.get("api_type") != "azure_openai":
            record["key_type"] = None
        return Configuration(api_key=api_key, **record)

    def exists(self, name: str) -> bool:
        return self.backend.get(name) is not None

    def list(self) -> list[dict[str, Any]]:
        """Every configuration without its key."""
        listed = []
        for _, raw in self.backend.items():
            record = json.loads(raw)
            record.pop("api_key_encrypted", None)
            listed.append(record)
        return listed

    def delete(self, name: str) -> bool:
        return self.backend.delete(name)

    def rotate(self) -> int:
        """Re-encrypt every stored key with the first secret key; the count rotated."""
        keyring = self._keyring()
        count = 0
        for name, raw in self.backend.items():
            record = json.loads(raw)
            record["api_key_encrypted"] = keyring.rotate(record["api_key_encrypted"], name=name)
            self.backend.put(name, json.dumps(record))
            count += 1
        return count
