"""Heartbeats: each worker process writes "I am alive" into Redis every few seconds.

This is what workers write; ``health`` reads it to count the live ones. Dramatiq's
Redis broker keeps heartbeats too, but producers write them as well and RabbitMQ keeps
none; these are written only by worker processes, whatever the broker. An entry that has not been
renewed for ``PRUNE_AFTER_S`` is removed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Any

import redis

from worker.connections import reply_text
from worker.keys import Keys

PRUNE_AFTER_S = 24 * 3600


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeats:
    """The sorted set ``Keys.workers``: worker id scored by its last beat (seconds)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.key = keys.workers

    def beat(self, ident: str) -> None:
        now = time.time()
        pipe = self.client.pipeline()
        pipe.zadd(self.key, {ident: now})
        pipe.zremrangebyscore(self.key, "-inf", now - PRUNE_AFTER_S)
        pipe.execute()

    def remove(self, ident: str) -> None:
        self.client.zrem(self.key, ident)

    def last_seen(self) -> dict[str, float]:
        """Seconds since each worker's last beat."""
        now = time.time()
        entries: Any = self.client.zrange(self.key, 0, -1, withscores=True)
        return {reply_text(ident): max(0.0, now - score) for ident, score in entries}


class Beating:
    """A daemon thread renewing one worker's heartbeat until stopped."""

    def __init__(self, heartbeats: Heartbeats, interval_s: float) -> None:
        self.heartbeats = heartbeats
        self.interval_s = interval_s
        self.ident = worker_id()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(redis.RedisError):  # else it ages out, reported stale
            self.heartbeats.remove(self.ident)

    def _run(self) -> None:
        while True:
            with contextlib.suppress(redis.RedisError):  # Redis away a moment: health says so
                self.heartbeats.beat(self.ident)
            if self._stop.wait(self.interval_s):
                return
