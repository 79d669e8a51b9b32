"""Named provider configurations: the value (``configuration``), stored with its API key
encrypted (``crypto``, ``store``)."""

from worker.configurations.configuration import API_TYPES, KEY_TYPES, TIERS, Configuration
from worker.configurations.crypto import KeyRing, SecretKeyError, generate_secret_key
from worker.configurations.store import ConfigurationStore, MemoryBackend, RedisBackend

__all__ = [
    "API_TYPES",
    "TIERS",
    "KEY_TYPES",
    "Configuration",
    "ConfigurationStore",
    "KeyRing",
    "MemoryBackend",
    "RedisBackend",
    "SecretKeyError",
    "generate_secret_key",
]
