"""Named provider configurations, stored with their API keys encrypted."""

from worker.configurations.crypto import KeyRing, SecretKeyError, generate_secret_key
from worker.configurations.store import ConfigurationStore, MemoryBackend, RedisBackend

__all__ = [
    "ConfigurationStore",
    "KeyRing",
    "MemoryBackend",
    "RedisBackend",
    "SecretKeyError",
    "generate_secret_key",
]
