"""Per-configuration rate limits held in Redis, shared by every worker."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from support import Reply, chat_completion, make_configuration

from worker.configurations import Configuration
from worker.errors import ConfigurationError
from worker.keys import Keys
from worker.ratelimit import RateLimited, RedisRateLimiter
from worker.retries import InlineRetries


def limiter(redis_url: str, namespace: str, **limits: Any) -> RedisRateLimiter:
    return RedisRateLimiter(
        redis.Redis.from_url(redis_url),
        Keys(namespace),
        "main",
        requests_per_minute=limits.get("rpm"),
        tokens_per_minute=limits.get("tpm"),
        window_s=limits.get("window_s", 60),
        inline=InlineRetries(max_rate_limit_wait_s=0),
    )


def test_requests_beyond_the_limit_must_wait_for_the_window(redis_url: str, namespace: str) -> None:
    first = limiter(redis_url, namespace, rpm=3)
    second = limiter(redis_url, namespace, rpm=3)  # another worker, same configuration

    admitted = [first.try_acquire(), second.try_acquire(), first.try_acquire()]
    refused = second.try_acquire()

    assert admitted == [0.0, 0.0, 0.0]
    assert 0.1 <= refused <= 60.0
    with pytest.raises(RateLimited) as caught:
        first.acquire()
    assert caught.value.wait_s == pytest.approx(refused, abs=0.5)


def test_reported_tokens_count_against_the_token_limit(redis_url: str, namespace: str) -> None:
    shared = limiter(redis_url, namespace, tpm=1000)

    assert shared.try_acquire() == 0.0
    shared.record_tokens(600)
    assert shared.try_acquire() == 0.0
    shared.record_tokens(600)

    assert shared.try_acquire() > 0


def test_limits_of_different_configurations_are_independent(redis_url: str, namespace: str) -> None:
    client, keys = redis.Redis.from_url(redis_url), Keys(namespace)
    one = RedisRateLimiter(client, keys, "one", requests_per_minute=1, tokens_per_minute=None)
    two = RedisRateLimiter(client, keys, "two", requests_per_minute=1, tokens_per_minute=None)

    assert one.try_acquire() == 0.0
    assert two.try_acquire() == 0.0
    assert one.try_acquire() > 0


@pytest.mark.parametrize("value", [0, -5, 1.5, True])
def test_limits_must_be_positive_whole_numbers(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="requests_per_minute"):
        Configuration(
            name="x",
            api_type="openai",
            endpoint="https://api.openai.com/v1",
            api_key="sk-x",
            requests_per_minute=value,
        )


@pytest.mark.integration
def test_two_workers_together_stay_under_the_limit_and_fail_nothing(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    # Given a configuration allowing 3 requests per (shortened, 3 s) window
    wire_server.handler = lambda _: Reply(json=chat_completion("ok"))
    base = make_configuration("openai", wire_server.url)
    client.configurations().save(
        Configuration(
            **{
                **base.public_dict(),
                "api_key": base.api_key,
                "key_type": None,
                "requests_per_minute": 3,
            }
        )
    )
    window = {"OPENAI_WORKER_RATE_LIMIT_WINDOW_S": "3"}
    start_worker(threads=4, **window)
    start_worker(threads=4, **window)

    # When 9 jobs arrive at once
    job_ids = [
        client.submit("configuration_test", {"configuration": "test", "model": "m"})
        for _ in range(9)
    ]
    records = [client.wait(job_id, 90) for job_id in job_ids]

    # Then all succeed, none was failed for waiting, and no 3 s window saw more than 3
    # (the limiter counts in tenths of a second, hence the 0.15 s margin)
    assert [r["status"] for r in records] == ["succeeded"] * 9
    times = sorted(request.received_at for request in wire_server.requests)
    assert len(times) == 9
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + 2.85) <= 3


def test_a_worker_whose_clock_runs_ahead_shares_the_same_window(
    redis_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one request admitted by a worker with a true clock
    assert limiter(redis_url, namespace, rpm=1).try_acquire() == 0.0

    # When a worker whose clock is an hour ahead asks
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)
    ahead = limiter(redis_url, namespace, rpm=1)

    # Then it is refused too: the window is read from Redis' clock, not the worker's
    assert ahead.try_acquire() > 0
