"""No provider call is paid for twice, and every job ends: the call ledger at work.

Real worker processes, real Redis and the local wire server; each test counts the
requests the provider received.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from support import Reply, chat_completion, make_configuration, wait_for

from worker.configurations import Configuration
from worker.errors import ValidationError
from worker.keys import Keys
from worker.ratelimit import RedisRateLimiter
from worker.retries import INLINE

pytestmark = pytest.mark.integration
WAIT_S = 90
#: A 3 s rate-limit window: waits longer than the 2 s slept inline re-queue the job.
WINDOW = {"OPENAI_WORKER_RATE_LIMIT_WINDOW_S": "3"}


def limited(base: Configuration, **limits: int) -> Configuration:
    return Configuration(**{**base.public_dict(), "api_key": base.api_key, **limits})


def embeddings_answer(request: Any, tokens: int = 1000) -> Reply:
    count = len(request.json["input"])
    data = [{"object": "embedding", "index": i, "embedding": [0.5, 0.25]} for i in range(count)]
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return Reply(json={"object": "list", "data": data, "model": "m", "usage": usage})


def chunks(count: int) -> list[dict[str, Any]]:
    return [{"key": f"k{i}", "input": f"chunk {i}"} for i in range(count)]


def test_a_rate_limited_embeddings_job_sends_each_batch_once(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    # Given a token limit that one batch's usage fills for a whole (3 s) window
    wire_server.handler = embeddings_answer
    client.configurations().save(
        limited(make_configuration("openai", wire_server.url), tokens_per_minute=1000)
    )
    worker = start_worker(**WINDOW)

    # When a 5,000-chunk job (three batches) runs under it
    payload = {"configuration": "test", "model": "m", "chunks": chunks(5000)}
    record = client.wait(client.submit("embeddings_list_input", payload), WAIT_S)

    # Then it waited for capacity twice, yet the provider saw each batch exactly once
    assert record["status"] == "succeeded", record["error"]
    assert [len(r.json["input"]) for r in wire_server.requests] == [2048, 2048, 904]
    assert [c["key"] for c in record["output"]["chunks"]] == [f"k{i}" for i in range(5000)]
    assert record["waited_s"] > 0
    assert record["attempts"] == 1  # waiting is not an attempt
    assert record["usage"]["total_tokens"] == 3000
    assert worker.log().count("job.rate_limited") >= 2


def test_a_rate_limited_multiple_prompts_job_sends_each_prompt_once(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    wire_server.handler = lambda r: Reply(json=chat_completion(r.json["messages"][-1]["content"]))
    client.configurations().save(
        limited(make_configuration("openai", wire_server.url), requests_per_minute=3)
    )
    start_worker(**WINDOW)

    prompts = [f"prompt {i}" for i in range(5)]
    payload = {"configuration": "test", "model": "m", "prompts": prompts}
    record = client.wait(client.submit("chat_completions_multiple", payload), WAIT_S)

    assert record["status"] == "succeeded", record["error"]
    sent = sorted(r.json["messages"][-1]["content"] for r in wire_server.requests)
    assert sent == prompts
    answers = [r["assistant_response_text"] for r in record["output"]["responses"]]
    assert answers == prompts
    assert record["waited_s"] > 0


def test_a_429_on_batch_3_of_5_costs_exactly_one_more_request(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    # Given a provider that refuses the third request once
    def provider(request: Any) -> Reply:
        if len(wire_server.requests) == 3:
            return Reply(429, {"error": {"message": "Slow down"}}, headers={"Retry-After": "0"})
        return embeddings_answer(request)

    wire_server.handler = provider
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker()

    # When a job of five batches runs
    payload = {"configuration": "test", "model": "m", "chunks": chunks(9000)}
    record = client.wait(client.submit("embeddings_list_input", payload), WAIT_S)

    # Then batches 1 and 2 were not sent again: 5 batches + the refused one
    assert record["status"] == "succeeded", record["error"]
    assert [len(r.json["input"]) for r in wire_server.requests] == [2048] * 4 + [2048, 808]
    assert record["attempts"] == 2


@pytest.fixture
def refusing_redis(redis_url: str) -> Iterator[Any]:
    """Make Redis refuse writes (out of memory) on demand; always restored afterwards."""
    admin = redis.Redis.from_url(redis_url)
    saved = (
        admin.config_get("maxmemory")["maxmemory"],
        admin.config_get("maxmemory-policy")["maxmemory-policy"],
    )

    def refuse_for(seconds: float) -> None:
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", "1")
        threading.Timer(seconds, restore).start()

    def restore() -> None:
        admin.config_set("maxmemory", saved[0])
        admin.config_set("maxmemory-policy", saved[1])

    yield refuse_for
    restore()
    admin.close()


def test_a_final_write_redis_refuses_costs_one_call_and_ends_succeeded(
    client: Any, start_worker: Any, wire_server: Any, refusing_redis: Any
) -> None:
    # Given a provider during whose answer Redis starts refusing writes for 4 s
    def provider(request: Any) -> Reply:
        refusing_redis(4.0)
        return Reply(json=chat_completion("made once"))

    wire_server.handler = provider
    client.configurations().save(make_configuration("openai", wire_server.url))
    worker = start_worker(OPENAI_WORKER_MAX_RETRIES="0")

    # When a job's final record cannot be written at first
    payload = {"configuration": "test", "model": "m", "user_prompt": "hi"}
    record = client.wait(client.submit("chat_completions_without_history", payload), WAIT_S)

    # Then the provider was called once, and the job ended with its output
    assert record["status"] == "succeeded", record["error"]
    assert record["output"]["assistant_response_text"] == "made once"
    assert len(wire_server.requests) == 1
    assert "job.final_write_refused" in worker.log()


def test_a_job_that_never_gets_capacity_ends_rate_limited_after_its_bound(
    client: Any, start_worker: Any, wire_server: Any, redis_url: str, namespace: str
) -> None:
    # Given a token limit that another worker keeps filling, so it never has room
    client.configurations().save(
        limited(make_configuration("openai", wire_server.url), tokens_per_minute=1000)
    )
    rival = RedisRateLimiter(
        redis.Redis.from_url(redis_url),
        Keys(namespace),
        "test",
        requests_per_minute=None,
        tokens_per_minute=1000,
        window_s=3,
    )
    stop = threading.Event()

    def fill_the_window() -> None:
        while not stop.wait(0.05):
            rival.record_tokens(10_000)

    thread = threading.Thread(target=fill_the_window, daemon=True)
    thread.start()
    try:
        start_worker(OPENAI_WORKER_MAX_QUEUE_WAIT_S="5", **WINDOW)

        # When a job waits for capacity
        payload = {"configuration": "test", "model": "m", "user_prompt": "hi"}
        record = client.wait(client.submit("chat_completions_without_history", payload), WAIT_S)
    finally:
        stop.set()
        thread.join()

    # Then it ends once its waits would pass the bound, having paid for nothing
    assert record["status"] == "failed", record
    assert record["error"]["type"] == "rate_limited"
    assert "OPENAI_WORKER_MAX_QUEUE_WAIT_S" in record["error"]["message"]
    # (within the bound, plus at most the short wait a thread sleeps through inline)
    assert 0 < record["error"]["details"]["waited_s"] <= 5 + INLINE.max_rate_limit_wait_s
    assert record["error"]["details"]["answered_calls"] == []
    assert record["attempts"] == 0
    assert wire_server.requests == []


def test_concurrent_retries_of_a_failed_job_run_it_once(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    # Given a job that failed
    wire_server.script(Reply(400, {"error": {"message": "Bad request"}}))
    wire_server.handler = lambda _: Reply(json=chat_completion("second time lucky"))
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker()
    payload = {"configuration": "test", "model": "m", "user_prompt": "hi"}
    job_id = client.submit("chat_completions_without_history", payload)
    assert client.wait(job_id, WAIT_S)["status"] == "failed"

    # When eight callers retry it at the same moment
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def retry() -> None:
        barrier.wait()
        try:
            client.retry(job_id)
            outcomes.append("retried")
        except ValidationError:
            outcomes.append("refused")

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then one of them re-ran the job, once
    assert sorted(outcomes) == ["refused"] * 7 + ["retried"]
    wait_for(lambda: client.result(job_id)["status"] == "succeeded", WAIT_S)
    assert len(wire_server.requests) == 2


def test_a_read_timeout_says_the_call_may_have_been_billed(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    wire_server.handler = lambda _: Reply(json=chat_completion("late"), delay_s=1.5)
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker(
        OPENAI_WORKER_CHAT_TIMEOUT_S="0.5",
        OPENAI_WORKER_MAX_RETRIES="1",
        OPENAI_WORKER_BACKOFF_BASE_S="0.05",
    )

    payload = {"configuration": "test", "model": "m", "user_prompt": "hi"}
    record = client.wait(client.submit("chat_completions_without_history", payload), WAIT_S)

    assert record["status"] == "failed"
    assert record["error"]["type"] == "transport"
    assert record["error"]["details"] == {"may_have_been_billed": True}
    assert len(wire_server.requests) == 2  # the first try and the one retry allowed
