"""Per-minute buckets: what workers count, what ``stats`` and the charts read back."""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

import pytest
import redis
from support import Reply, chat_completion, make_configuration

from worker.keys import Keys
from worker.monitoring.buckets import (
    RUN_BOUNDS_S,
    WAIT_BOUNDS_S,
    MinuteBuckets,
    minute_of,
    quantile_s,
    read_minutes,
    summary,
)


def _record(status: str, configuration: str, waited_ms: int, **extra: Any) -> dict[str, Any]:
    return {
        "status": status,
        "operation": "chat_completions_without_history",
        "configuration": configuration,
        "enqueued_at": "2026-11-22T10:00:00.000+00:00",
        "started_at": f"2026-11-22T10:00:00.{waited_ms:03d}+00:00",
        **extra,
    }


@pytest.fixture
def buckets(redis_url: str, namespace: str) -> MinuteBuckets:
    # Counting and reading back within one minute: start well before its end.
    while time.time() % 60 > 50:
        time.sleep(0.5)
    return MinuteBuckets(redis.Redis.from_url(redis_url), Keys(namespace), flush_s=3600)


def test_counts_reach_redis_in_one_flush_and_read_back_by_minute(buckets: MinuteBuckets) -> None:
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    for _ in range(3):
        buckets.provider_response("east:1", "chat/completions", 200, 0.01)
        buckets.job_finished(_record("succeeded", "east:1", 2, usage=usage), 0.3)
    buckets.provider_response("west", "chat/completions", 429, 0.01)
    buckets.job_finished(
        _record("failed", "west", 700, error={"type": "provider", "message": "x"}), 7.0
    )
    # nothing is sent before the flush
    assert not read_minutes(buckets.client, buckets.keys, time.time())[-1].jobs

    buckets.flush()

    [minute] = read_minutes(buckets.client, buckets.keys, time.time())
    assert minute.start == minute_of(time.time())
    assert minute.jobs == {"succeeded": 3, "failed": 1}
    assert minute.operations == {"chat_completions_without_history": {"succeeded": 3, "failed": 1}}
    assert minute.failures == {"provider": 1}
    assert minute.tokens == {"east:1": {"prompt": 33, "completion": 21, "total": 54}}
    assert minute.statuses == {"east:1": {"200": 3}, "west": {"429": 1}}
    assert sum(minute.wait) == 4
    assert quantile_s(minute.wait, WAIT_BOUNDS_S, 0.5) == 0.005  # waited 2 ms
    assert quantile_s(minute.wait, WAIT_BOUNDS_S, 0.95) == 1  # waited 0.7 s
    assert quantile_s(minute.run, RUN_BOUNDS_S, 0.5) == 0.5
    # One configuration's figures (its name may hold any printable character)
    [east] = read_minutes(buckets.client, buckets.keys, time.time(), configuration="east:1")
    assert east.jobs == {"succeeded": 3}
    assert not east.failures
    assert east.tokens == {"east:1": {"prompt": 33, "completion": 21, "total": 54}}
    [west] = read_minutes(buckets.client, buckets.keys, time.time(), configuration="west")
    assert west.failures == {"provider": 1}
    assert quantile_s(west.run, RUN_BOUNDS_S, 0.5) == 10
    # The keys expire after a week
    key = buckets.keys.stats_minute(minute.start)
    assert 0 < buckets.client.ttl(key) <= 7 * 24 * 3600


def test_a_span_is_every_minute_zero_filled_and_summed(buckets: MinuteBuckets) -> None:
    buckets.job_finished(_record("succeeded", "a", 1), 0.2)
    buckets.flush()
    minutes = read_minutes(buckets.client, buckets.keys, time.time() - 3600 + 60)

    assert len(minutes) == 60
    assert [m.start for m in minutes] == list(range(minutes[0].start, minutes[-1].start + 1, 60))
    figures = summary(minutes)
    assert figures["jobs"] == {"succeeded": 1}
    assert figures["jobs_per_minute"] == round(1 / 60, 2)
    assert figures["queue_wait_s"] == {"p50": 0.005, "p95": 0.005}
    assert summary(minutes[:-1])["queue_wait_s"] == {"p50": None, "p95": None}


def test_quantiles_beyond_the_last_bound_say_so() -> None:
    histogram = [0] * len(WAIT_BOUNDS_S)
    histogram[-1] = 3
    assert quantile_s(histogram, WAIT_BOUNDS_S, 0.5) == math.inf


def test_a_redis_that_refuses_keeps_the_counts_for_the_next_flush(
    redis_url: str, namespace: str
) -> None:
    # Given counts made while Redis cannot be reached
    unreachable = redis.Redis(port=1, socket_connect_timeout=0.2)
    buckets = MinuteBuckets(unreachable, Keys(namespace), flush_s=3600)
    since = time.time() - 60
    buckets.job_finished(_record("succeeded", "a", 1), 0.2)
    buckets.flush()  # no exception: figures never fail a job

    # When Redis is back (the same process, its client now reaching it)
    buckets.client = redis.Redis.from_url(redis_url)
    buckets.flush()

    # Then the counts arrive once
    minutes = read_minutes(buckets.client, buckets.keys, since)
    assert sum(sum(m.jobs.values()) for m in minutes) == 1


@pytest.mark.integration
def test_workers_count_their_jobs_and_stats_prints_them(
    cli: Any, client: Any, start_worker: Any, wire_server: Any
) -> None:
    # Given 30 jobs that succeed and 10 the provider refuses
    def answer(request: Any) -> Reply:
        if "refuse" in request.json["messages"][-1]["content"]:
            return Reply(400, {"error": {"message": "no", "code": "invalid_request"}})
        return Reply(json=chat_completion("ok"))

    wire_server.handler = answer
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker(processes=2, threads=4)
    prompts = ["hello"] * 30 + ["refuse"] * 10
    jobs = [
        client.submit(
            "chat_completions_without_history",
            {"configuration": "test", "model": "m", "user_prompt": prompt},
        )
        for prompt in prompts
    ]
    records = [client.wait(job_id, 60) for job_id in jobs]
    assert Counter(r["status"] for r in records) == {"succeeded": 30, "failed": 10}

    # When stats is asked (the workers send their counts within a second)
    def figures() -> dict[str, Any]:
        code, out, err = cli("stats", "--since", "10m", "--json")
        assert code == 0, err
        return out

    deadline = time.monotonic() + 10
    while figures()["jobs"] != {"succeeded": 30, "failed": 10}:
        assert time.monotonic() < deadline, figures()
        time.sleep(0.2)

    # Then it has every job, failure, token and provider answer
    out = figures()
    assert out["failures"] == {"provider": 10}
    assert out["tokens"]["test"]["total"] == 30 * 18
    assert out["provider_statuses"]["test"] == {"200": 30, "400": 10}
    assert out["queue_wait_s"]["p50"] is not None
    code, table, _ = cli("stats", "--since", "1h")
    assert code == 0
    assert "succeeded 30" in table
    assert "failed 10" in table
    code, out, _ = cli("stats", "--since", "yesterday")
    assert code == 2
    assert "--since takes a span" in out["error"]["message"]
