"""Configurations are stored with the key encrypted, listed without it, and rotated."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from worker.configurations import (
    Configuration,
    ConfigurationStore,
    KeyRing,
    MemoryBackend,
    RedisBackend,
    SecretKeyError,
    generate_secret_key,
)
from worker.errors import ConfigurationError
from worker.keys import Keys

KEY = "sk-store-test-abcdefghijklmnop"


def configuration(name: str = "main") -> Configuration:
    return Configuration(
        name=name, api_type="openai", endpoint="https://api.openai.com/v1", api_key=KEY
    )


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest, redis_url: str, namespace: str) -> Any:
    if request.param == "memory":
        return MemoryBackend()
    return RedisBackend(redis.Redis.from_url(redis_url), Keys(namespace))


def test_a_saved_configuration_loads_back_with_its_key(backend: Any) -> None:
    store = ConfigurationStore(backend, KeyRing([generate_secret_key()]))

    store.save(configuration())

    assert store.load("main") == configuration()


def test_the_key_is_stored_encrypted(backend: Any) -> None:
    store = ConfigurationStore(backend, KeyRing([generate_secret_key()]))

    store.save(configuration())

    raw = backend.get("main")
    assert KEY not in raw
    assert json.loads(raw)["sealed"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("endpoint", "https://attacker.example/v1"),
        ("api_type", "azure_openai"),
        ("organization", "org-other"),
        ("requests_per_minute", 100000),
        ("callback_url", "https://attacker.example/collect"),
    ],
)
def test_a_configuration_changed_outside_the_worker_is_refused(
    backend: Any, field: str, value: Any
) -> None:
    # Given a stored configuration whose plaintext copy someone with Redis access edited
    store = ConfigurationStore(backend, KeyRing([generate_secret_key()]))
    store.save(configuration())
    record = json.loads(backend.get("main"))
    record[field] = value
    backend.put("main", json.dumps(record))

    # Then loading it is refused, naming what changed and what to do
    with pytest.raises(ConfigurationError, match=f"changed outside openai-worker \\({field}"):
        store.load("main")


def test_a_sealed_configuration_copied_under_another_name_is_refused(backend: Any) -> None:
    store = ConfigurationStore(backend, KeyRing([generate_secret_key()]))
    store.save(configuration())
    backend.put("other", backend.get("main").replace('"main"', '"other"'))

    with pytest.raises(ConfigurationError, match="name"):
        store.load("other")


def test_a_configuration_stored_before_sealing_is_sealed_on_first_load(backend: Any) -> None:
    # Given a record as earlier versions stored it: only the key encrypted
    keyring = KeyRing([generate_secret_key()])
    legacy = {**configuration().public_dict(), "api_key_encrypted": keyring.encrypt(KEY)}
    backend.put("main", json.dumps(legacy))
    store = ConfigurationStore(backend, keyring)

    # When it is loaded, it works and is sealed from then on
    assert store.load("main") == configuration()
    sealed = json.loads(backend.get("main"))
    assert "api_key_encrypted" not in sealed
    assert sealed["sealed"]
    assert store.load("main") == configuration()


def test_rotation_seals_records_from_before_sealing(backend: Any) -> None:
    old_key, new_key = generate_secret_key(), generate_secret_key()
    legacy = {**configuration().public_dict(), "api_key_encrypted": KeyRing([old_key]).encrypt(KEY)}
    backend.put("main", json.dumps(legacy))

    assert ConfigurationStore(backend, KeyRing([new_key, old_key])).rotate() == 1

    assert ConfigurationStore(backend, KeyRing([new_key])).load("main") == configuration()


def test_listing_never_shows_the_key_and_needs_no_secret_key(backend: Any) -> None:
    ConfigurationStore(backend, KeyRing([generate_secret_key()])).save(configuration())

    listed = ConfigurationStore(backend, None).list()

    assert listed == [configuration().public_dict()]
    assert KEY not in json.dumps(listed)


def test_a_missing_configuration_is_a_configuration_error(backend: Any) -> None:
    store = ConfigurationStore(backend, KeyRing([generate_secret_key()]))

    with pytest.raises(ConfigurationError, match="no configuration named 'nope'"):
        store.load("nope")


def test_a_wrong_secret_key_is_a_clear_error(backend: Any) -> None:
    ConfigurationStore(backend, KeyRing([generate_secret_key()])).save(configuration())

    with pytest.raises(SecretKeyError, match="cannot be decrypted"):
        ConfigurationStore(backend, KeyRing([generate_secret_key()])).load("main")


def test_rotation_re_encrypts_with_the_new_key_so_the_old_one_can_go(backend: Any) -> None:
    old, new = generate_secret_key(), generate_secret_key()
    ConfigurationStore(backend, KeyRing([old])).save(configuration())

    rotated = ConfigurationStore(backend, KeyRing([new, old])).rotate()

    assert rotated == 1
    assert ConfigurationStore(backend, KeyRing([new])).load("main").api_key == KEY


def test_saving_without_a_secret_key_says_how_to_make_one(backend: Any) -> None:
    with pytest.raises(SecretKeyError, match="openai-worker secret-key"):
        ConfigurationStore(backend, None).save(configuration())


@pytest.mark.parametrize("bad", ["not-a-key", "x" * 44])
def test_a_malformed_secret_key_is_refused(bad: str) -> None:
    with pytest.raises(SecretKeyError, match="key 1 is not a Fernet key"):
        KeyRing([bad])


def test_deleting_removes_the_configuration(backend: Any) -> None:
    store = ConfigurationStore(backend, KeyRing([generate_secret_key()]))
    store.save(configuration())

    assert store.delete("main") is True
    assert store.delete("main") is False
    assert store.exists("main") is False


def test_a_cached_configuration_is_reused_then_reloaded(backend: Any) -> None:
    store = ConfigurationStore(backend, KeyRing([generate_secret_key()]), cache_s=60)
    store.save(configuration())
    first = store.load("main")
    backend.delete("main")

    assert store.load("main") is first  # served from the cache
    store._cache["main"] = (0.0, first)  # the cache entry has expired
    with pytest.raises(ConfigurationError, match="no configuration named 'main'"):
        store.load("main")
