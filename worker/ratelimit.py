"""Rate limits per configuration, shared by every worker through Redis.

A configuration may set ``requests_per_minute`` and ``tokens_per_minute``. Each worker
asks Redis before every provider call; the answer covers all workers at once. Counts
are kept per tenth of a second in a hash and summed over the sliding window, so a check is one
short Lua script. Tokens are counted after each call, from the usage the provider
reports, so a token limit holds where usage is known (it can be overshot by the calls
already in flight when it is reached).
"""

from __future__ import annotations

import time
from typing import Protocol

import redis

#: KEYS: requests hash, tokens hash. ARGV: now and window (in tenths of a second), rpm,
#: tpm (0: none). Returns {1, 0} when the request may go, else {0, tenths to wait}.
_ACQUIRE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local function window_sum(key)
  local total, oldest = 0, now
  local data = redis.call('HGETALL', key)
  for i = 1, #data, 2 do
    local second = tonumber(data[i])
    if second <= now - window then
      redis.call('HDEL', key, data[i])
    else
      total = total + tonumber(data[i + 1])
      if second < oldest then oldest = second end
    end
  end
  return total, oldest
end
local limits = {tonumber(ARGV[3]), tonumber(ARGV[4])}
for i = 1, 2 do
  if limits[i] > 0 then
    local used, oldest = window_sum(KEYS[i])
    if used >= limits[i] then
      return {0, oldest + window - now}
    end
  end
end
redis.call('HINCRBY', KEYS[1], now, 1)
redis.call('EXPIRE', KEYS[1], math.ceil(window / 5))
return {1, 0}
"""


class RateLimited(Exception):  # noqa: N818 - a signal, not an error a job ends with
    """No capacity now; try again in ``wait_s`` seconds (the job is delayed, not failed)."""

    def __init__(self, configuration: str, wait_s: float) -> None:
        super().__init__(f"configuration {configuration!r} is at its rate limit")
        self.wait_s = wait_s


class Limiter(Protocol):
    def acquire(self) -> None:
        """Return when a request may go; raise ``RateLimited`` when it may not yet."""
        ...

    def record_tokens(self, tokens: int) -> None: ...


class NoLimit:
    """For configurations without limits."""

    def acquire(self) -> None:
        pass

    def record_tokens(self, tokens: int) -> None:
        pass


class RedisRateLimiter:
    """The shared limits of one configuration.

    Waits of up to ``max_inline_wait_s`` are slept through in the calling thread, so a
    job making many calls (embeddings batches, tool loops) is not restarted for a
    short pause; longer waits raise ``RateLimited`` so the job is re-enqueued with a
    delay and the thread is freed.
    """

    def __init__(
        self,
        client: redis.Redis,
        namespace: str,
        configuration: str,
        *,
        requests_per_minute: int | None,
        tokens_per_minute: int | None,
        window_s: int = 60,
        max_inline_wait_s: float = 2.0,
    ) -> None:
        self.configuration = configuration
        base = f"{namespace}:ratelimit:{configuration}"
        self.keys = [f"{base}:requests", f"{base}:tokens"]
        self.rpm = requests_per_minute or 0
        self.tpm = tokens_per_minute or 0
        self.window_s = window_s
        self.max_inline_wait_s = max_inline_wait_s
        self.client = client
        self._acquire = client.register_script(_ACQUIRE)

    def try_acquire(self) -> float:
        """0 when a request was admitted, else the seconds until there may be room."""
        allowed, wait = self._acquire(
            keys=self.keys, args=[_tenths(time.time()), self.window_s * 10, self.rpm, self.tpm]
        )
        return 0.0 if int(allowed) else max(float(wait) / 10, 0.1)

    def acquire(self) -> None:
        waited = 0.0
        while True:
            wait_s = self.try_acquire()
            if wait_s == 0.0:
                return
            if waited + wait_s > self.max_inline_wait_s:
                raise RateLimited(self.configuration, wait_s)
            time.sleep(wait_s)
            waited += wait_s

    def record_tokens(self, tokens: int) -> None:
        if self.tpm and tokens > 0:
            pipe = self.client.pipeline(transaction=False)
            pipe.hincrby(self.keys[1], str(_tenths(time.time())), tokens)
            pipe.expire(self.keys[1], self.window_s * 2)
            pipe.execute()


def _tenths(seconds: float) -> int:
    return int(seconds * 10)
