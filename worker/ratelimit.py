"""Rate limits per configuration, shared by every worker through Redis.

A configuration may set ``requests_per_minute`` and ``tokens_per_minute``. Each worker
asks Redis before every provider call; the answer covers all workers at once. Counts
are kept per tenth of a second of Redis' own clock (workers' clocks may disagree) in a
hash and summed over the sliding window, so a check is one short Lua script. Tokens are
counted after each call, from the usage the provider reports, so a token limit holds
where usage is known (it can be overshot by the calls already in flight when it is
reached).
"""

from __future__ import annotations

from typing import Protocol

import redis

from worker.connections import LuaScript
from worker.keys import Keys
from worker.retries import INLINE, InlineRetries
from worker.turns import TURNS


class RateLimited(Exception):  # noqa: N818 - a signal, not an error a job ends with
    """No capacity now; try again in ``wait_s`` seconds (the job is delayed, not failed)."""

    def __init__(self, configuration: str, wait_s: float, *, slept_s: float = 0.0) -> None:
        super().__init__(f"configuration {configuration!r} is at its rate limit")
        self.wait_s = wait_s
        #: What the thread already slept for capacity before giving up the wait.
        self.slept_s = slept_s


class Limiter(Protocol):
    def acquire(self) -> None:
        """Return when a request may go; raise ``RateLimited`` when it may not yet."""
        ...

    def try_acquire(self) -> float:
        """0 when a request was admitted now, else the seconds until there may be room."""
        ...

    def record_tokens(self, tokens: int) -> None: ...


class NoLimit:
    """For configurations without limits."""

    def acquire(self) -> None:
        pass

    def try_acquire(self) -> float:
        return 0.0

    def record_tokens(self, tokens: int) -> None:
        pass


class RedisRateLimiter:
    """The shared limits of one configuration.

    Short waits (``retries.INLINE``) are slept through in the calling thread, so a job
    making many calls (embeddings batches, tool loops) is not restarted for a short
    pause; longer waits raise ``RateLimited`` so the job is re-enqueued with a delay
    and the thread is freed.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        configuration: str,
        *,
        requests_per_minute: int | None,
        tokens_per_minute: int | None,
        window_s: int = 60,
        inline: InlineRetries = INLINE,
    ) -> None:
        self.configuration = configuration
        self.keys = [
            keys.rate_limit(configuration, "requests"),
            keys.rate_limit(configuration, "tokens"),
        ]
        self.rpm = requests_per_minute or 0
        self.tpm = tokens_per_minute or 0
        self.window_s = window_s
        self.inline = inline
        self.client = client
        # KEYS, ARGV and what they return: worker/lua/rate_limit_*.lua.
        self._acquire = LuaScript(client, "rate_limit_acquire.lua")
        self._tokens = LuaScript(client, "rate_limit_tokens.lua")

    def try_acquire(self) -> float:
        """0 when a request was admitted, else the seconds until there may be room."""
        allowed, wait = self._acquire(keys=self.keys, args=[self.window_s * 10, self.rpm, self.tpm])
        return 0.0 if int(allowed) else max(float(wait) / 10, 0.1)

    def acquire(self) -> None:
        waited = 0.0
        while True:
            wait_s = self.try_acquire()
            if wait_s == 0.0:
                return
            if not self.inline.sleeps_through(waited, wait_s):
                raise RateLimited(self.configuration, wait_s, slept_s=waited)
            TURNS.sleep(wait_s)
            waited += wait_s

    def record_tokens(self, tokens: int) -> None:
        if self.tpm and tokens > 0:
            self._tokens(keys=[self.keys[1]], args=[tokens, self.window_s * 10])
