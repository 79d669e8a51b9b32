"""The configuration store: one JSON record per name, sealed with the secret key.

The whole configuration (name, endpoint, api_type, deployment, api_version, key type,
organization, limits and the key) is encrypted as one Fernet token, ``sealed``, so
nothing of it can be changed without the secret key; a plaintext copy beside it serves
listing only. On load the token is the truth, and a plaintext copy that disagrees with
it (someone with Redis access pointing the endpoint elsewhere) is refused. Records from
before sealing (only the key encrypted) are sealed as they are on first load, or by
``rotate-secret-key``.

The store logic is shared; a backend only keeps raw records: ``RedisBackend`` in a
Redis hash for real use, ``MemoryBackend`` for unit tests.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

import redis
import structlog

from worker.configurations.configuration import Configuration
from worker.configurations.crypto import KeyRing
from worker.configurations.pool import Pool
from worker.connections import reply_text
from worker.errors import ConfigurationError
from worker.keys import MEMBER_HEALTH, Keys
from worker.redaction import register_secret

log = structlog.get_logger("worker.configurations")


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
        self.member = keys.member

    def get(self, name: str) -> str | None:
        value = self.client.hget(self.key, name)
        return None if value is None else reply_text(value)

    def put(self, name: str, record: str) -> None:
        # Saved again: back in service in every pool it is a member of, with no history
        # (``worker.pools.router``: what took it out may be what was just fixed).
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.key, name, record)
        pipe.delete(*(self.member(name, part) for part in MEMBER_HEALTH))
        pipe.execute()

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
        self._cache: dict[str, tuple[float, Configuration | Pool]] = {}

    def _keyring(self) -> KeyRing:
        if self.keyring is None:
            # Listing works without the secret key; anything touching a key does not.
            return KeyRing(())
        return self.keyring

    def save(self, configuration: Configuration) -> None:
        register_secret(configuration.api_key)
        self.backend.put(configuration.name, self._sealed_record(configuration))

    def _sealed_record(self, configuration: Configuration) -> str:
        whole = {**configuration.public_dict(), "api_key": configuration.api_key}
        record = configuration.public_dict()
        record[SEALED] = self._keyring().encrypt(json.dumps(whole))
        return json.dumps(record)

    def save_pool(self, pool: Pool) -> None:
        """Store a pool under its name (sealed as a configuration is: a pool routes paid
        calls, so its members and fallback cannot be changed without the secret key)."""
        for member in pool.members:
            if isinstance(self._resolve(member.configuration), Pool):
                raise ConfigurationError(
                    f"pool {pool.name!r}: member {member.configuration!r} is a pool; members "
                    "are configurations (a pool may be the fallback)"
                )
        if pool.fallback is not None:
            self._resolve(pool.fallback)  # it must exist
        whole = pool.public_dict()
        record = {**whole, SEALED: self._keyring().encrypt(json.dumps(whole))}
        self.backend.put(pool.name, json.dumps(record))

    def resolve(self, name: str) -> Configuration | Pool:
        """The configuration or pool a payload's ``configuration`` names."""
        if self.cache_s > 0:
            cached = self._cache.get(name)
            now = time.monotonic()
            if cached is not None and cached[0] > now:
                return cached[1]
            found = self._resolve(name)
            self._cache[name] = (now + self.cache_s, found)
            return found
        return self._resolve(name)

    def load(self, name: str) -> Configuration:
        """The configuration named ``name``; a pool's name is refused."""
        found = self.resolve(name)
        if isinstance(found, Pool):
            raise ConfigurationError(f"{name!r} is a pool, not a single configuration")
        return found

    def load_pool(self, name: str) -> Pool:
        found = self.resolve(name)
        if not isinstance(found, Pool):
            raise ConfigurationError(f"{name!r} is a configuration, not a pool")
        return found

    def _resolve(self, name: str) -> Configuration | Pool:
        raw = self.backend.get(name)
        if raw is None:
            raise ConfigurationError(f"no configuration named {name!r}")
        record = json.loads(raw)
        if record.get("kind") == "pool":
            return self._open_pool(name, record)
        return self._open(name, record)

    def _open_pool(self, name: str, record: dict[str, Any]) -> Pool:
        whole = json.loads(self._keyring().decrypt(record.pop(SEALED, ""), name=name))
        if whole != record or whole.get("name") != name:
            raise ConfigurationError(
                f"pool {name!r} was changed outside openai-worker (its listing no longer "
                "matches its sealed copy); not used. Save it again with "
                "`openai-worker configure-pool`."
            )
        return Pool.from_dict(whole)

    def _open(self, name: str, record: dict[str, Any]) -> Configuration:
        if SEALED not in record:
            return self._seal_legacy(name, record)
        whole = json.loads(self._keyring().decrypt(record.pop(SEALED), name=name))
        register_secret(whole.get("api_key"))
        changed = sorted(
            field
            for field in {*record, *whole} - {"api_key"}
            if record.get(field) != whole.get(field)
        )
        if whole.get("name") != name:
            changed = ["name", *changed]
        if changed:
            raise ConfigurationError(
                f"configuration {name!r} was changed outside openai-worker "
                f"({', '.join(changed)} no longer match its sealed copy); not used. "
                "Save it again with `openai-worker configure`."
            )
        return _configuration(whole)

    def _seal_legacy(self, name: str, record: dict[str, Any]) -> Configuration:
        """A record from before sealing: seal it as it is, once."""
        api_key = self._keyring().decrypt(record.pop(LEGACY_KEY), name=name)
        register_secret(api_key)
        configuration = _configuration({**record, "api_key": api_key})
        self.backend.put(name, self._sealed_record(configuration))
        log.warning("configuration.sealed", configuration=name, reason="stored before sealing")
        return configuration

    def exists(self, name: str) -> bool:
        return self.backend.get(name) is not None

    def list(self) -> list[dict[str, Any]]:
        """Every configuration without its key (the plaintext copies, for listing only)."""
        listed = []
        for _, raw in self.backend.items():
            record = json.loads(raw)
            record.pop(SEALED, None)
            record.pop(LEGACY_KEY, None)
            listed.append(record)
        return listed

    def delete(self, name: str) -> bool:
        return self.backend.delete(name)

    def rotate(self) -> int:
        """Re-seal every configuration with the first secret key; the count rotated.

        Records from before sealing are sealed here too.
        """
        keyring = self._keyring()
        count = 0
        for name, raw in self.backend.items():
            record = json.loads(raw)
            if SEALED in record:
                record[SEALED] = keyring.rotate(record[SEALED], name=name)
                self.backend.put(name, json.dumps(record))
            else:
                self._seal_legacy(name, record)
            count += 1
        return count


#: The record's field holding the whole configuration, encrypted.
SEALED = "sealed"
#: Where records from before sealing kept the encrypted key (and nothing else).
LEGACY_KEY = "api_key_encrypted"


def _configuration(whole: dict[str, Any]) -> Configuration:
    fields = dict(whole)
    if fields.get("api_type") != "azure_openai":
        fields["key_type"] = None
    return Configuration(**fields)
