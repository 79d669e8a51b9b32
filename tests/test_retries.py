"""The retry policy: what is retried, and after how long."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from requests.structures import CaseInsensitiveDict

from worker.retries import FINAL_WRITE, RetryPolicy


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 599])
def test_transient_statuses_are_retryable(status: int) -> None:
    assert RetryPolicy().is_retryable_status(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retryable(status: int) -> None:
    assert not RetryPolicy().is_retryable_status(status)


@pytest.mark.parametrize("status", [501, 505, 506, 508, 510, 511])
def test_server_errors_that_say_never_are_not_retryable(status: int) -> None:
    # 501 Not Implemented, 505 HTTP Version Not Supported…: waiting cannot change them.
    assert not RetryPolicy().is_retryable_status(status)


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(backoff_base_s=1.0, backoff_max_s=10.0, rng=random.Random(7))

    delays = [policy.backoff_s(n) for n in range(6)]

    for retries_done, delay in enumerate(delays):
        ceiling = min(10.0, 2.0**retries_done)
        assert ceiling / 2 <= delay <= ceiling
    assert delays[5] <= 10.0
    assert len({round(d, 6) for d in delays}) == len(delays)  # jitter: no two alike


def test_the_budget_allows_exactly_max_retries() -> None:
    policy = RetryPolicy(max_retries=2)

    assert [policy.allows_retry(n) for n in range(4)] == [True, True, False, False]


def test_retry_after_seconds_wins_over_backoff() -> None:
    policy = RetryPolicy(backoff_base_s=100.0)

    assert 3.0 <= policy.delay_s(0, retry_after_s=3.0) <= 4.0


def test_an_absurd_retry_after_is_capped() -> None:
    assert 60 <= RetryPolicy(retry_after_max_s=60).delay_s(0, retry_after_s=86_400) <= 66


def headers(**values: str) -> CaseInsensitiveDict[str]:
    return CaseInsensitiveDict({k.replace("_", "-"): v for k, v in values.items()})


def test_retry_after_ms_is_read_in_milliseconds() -> None:
    assert RetryPolicy.parse_retry_after(headers(retry_after_ms="250")) == 0.25


def test_retry_after_ms_is_preferred_to_retry_after() -> None:
    parsed = RetryPolicy.parse_retry_after(headers(retry_after_ms="1500", Retry_After="20"))

    assert parsed == 1.5


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)

    assert RetryPolicy.parse_retry_after(headers(Retry_After="7")) == 7.0
    assert RetryPolicy.parse_retry_after(headers(Retry_After=later), now=now.timestamp()) == 30


@pytest.mark.parametrize("value", ["soon", "-5", "nan", ""])
def test_an_unreadable_retry_after_is_ignored(value: str) -> None:
    assert RetryPolicy.parse_retry_after(headers(Retry_After=value)) is None


@pytest.mark.parametrize("asked_s", [0.0, 2.0, 600.0])
def test_a_provider_delay_is_jittered_but_never_shortened(asked_s: float) -> None:
    # Retry-After: 0 (or a past date) must not send every waiting job back at once.
    policy = RetryPolicy(rng=random.Random(3))

    delays = [policy.delay_s(0, retry_after_s=asked_s) for _ in range(200)]

    assert min(delays) >= asked_s
    assert max(delays) <= asked_s + max(1.0, asked_s / 10)
    assert len(set(delays)) == 200


def test_a_refused_final_write_is_tried_again_for_minutes_with_growing_waits() -> None:
    delays = list(FINAL_WRITE.delays_s())

    assert delays[0] == FINAL_WRITE.first_delay_s
    assert all(b >= a for a, b in zip(delays, delays[1:], strict=False))
    assert max(delays) == FINAL_WRITE.max_delay_s
    assert 120 <= sum(delays) <= FINAL_WRITE.patience_s
