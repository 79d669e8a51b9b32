"""Where Redis is (``REDIS_URL``, or the embedded server started on demand), a client
for it, and the Lua scripts the stores run in it."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import redis

from worker import embedded_redis
from worker.settings import Settings

if TYPE_CHECKING:
    import redis.asyncio


def resolve_redis_url(settings: Settings) -> str:
    """``REDIS_URL`` if set, else the embedded server's URL (starting it if needed)."""
    if settings.redis_url:
        return settings.redis_url
    return embedded_redis.ensure_running(settings.data_dir)


def safe_url(url: str) -> str:
    """``url`` fit for a message: a password in it replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


#: Seconds a command may wait for a connection, or for Redis's answer.
SOCKET_TIMEOUT_S = 30
_OPTIONS: dict[str, Any] = {
    "socket_timeout": SOCKET_TIMEOUT_S,
    "socket_connect_timeout": 10,
    "health_check_interval": 30,
}


def redis_client(url: str, *, max_connections: int | None = None) -> redis.Redis:
    """A pooled client with timeouts that fail clearly instead of hanging.

    With ``max_connections`` the pool holds at most that many connections and a thread
    finding them all in use waits for one (up to the socket timeout) instead of failing
    with "Too many connections" as redis-py's default pool does past 100. A worker
    process with a thousand threads needs that: its threads take a connection only for
    a command's round trip, so a few dozen serve them all, and Redis's ``maxclients``
    is not spent on idle connections.
    """
    options = _OPTIONS
    if max_connections is None:
        return redis.Redis.from_url(url, **options)
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=SOCKET_TIMEOUT_S, **options
    )
    return redis.Redis(connection_pool=pool)


#: Connections an asyncio producer's client keeps at most (``async_redis_client``).
ASYNC_POOL_SIZE = 64


def async_redis_client(url: str) -> redis.asyncio.Redis:
    """A ``redis.asyncio`` client with the same timeouts, for asyncio producers.

    Its pool holds at most ``ASYNC_POOL_SIZE`` connections and a coroutine finding them
    all in use waits for one, as ``redis_client`` with ``max_connections`` does: a
    thousand concurrent submits or waits share a few dozen connections instead of
    failing past redis-py's default of 100.
    """
    import redis.asyncio

    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url, max_connections=ASYNC_POOL_SIZE, timeout=SOCKET_TIMEOUT_S, **_OPTIONS
    )
    return redis.asyncio.Redis(connection_pool=pool)


def reply_text(value: Any) -> str:
    """A Redis reply as text (replies are bytes unless a client decodes them)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


@functools.cache
def load_script(name: str) -> str:
    """The text of ``worker/lua/{name}``, read once per process (as Dramatiq does)."""
    return resources.files("worker").joinpath("lua", name).read_text(encoding="utf-8")


class LuaScript:
    """A script of ``worker/lua/`` run by its SHA, loaded into Redis when Redis lacks it.

    What redis-py's ``register_script`` does, without its per-call pipeline check (an
    ``isinstance`` against a ``Protocol`` subclass, slow enough to show in a job's CPU).
    """

    def __init__(self, client: redis.Redis, name: str) -> None:
        self.client = client
        self.text = load_script(name)
        self.sha = hashlib.sha1(self.text.encode("utf-8")).hexdigest()  # noqa: S324 - Redis's id

    def load(self) -> None:
        """Put the script into Redis (a fresh or restarted Redis has none)."""
        self.sha = self.client.script_load(self.text)

    def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        try:
            return self.client.evalsha(self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            self.load()
            return self.client.evalsha(self.sha, len(keys), *keys, *args)


class AsyncLuaScript:
    """``LuaScript`` on a ``redis.asyncio`` client: the same script, SHA and reloading."""

    def __init__(self, client: redis.asyncio.Redis, name: str) -> None:
        self.client = client
        self.text = load_script(name)
        self.sha = hashlib.sha1(self.text.encode("utf-8")).hexdigest()  # noqa: S324 - Redis's id

    async def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        try:
            return await self.client.evalsha(self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            self.sha = await self.client.script_load(self.text)
            return await self.client.evalsha(self.sha, len(keys), *keys, *args)
