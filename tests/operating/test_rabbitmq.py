"""The same actors on RabbitMQ (``BROKER_URL=amqp://…``), results still in Redis."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import redis
from support import Reply, make_configuration

from worker import AsyncClient

pytestmark = pytest.mark.integration


def prompt() -> dict[str, Any]:
    return {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "Say hi"}


def test_a_job_travels_on_rabbitmq_and_its_result_lands_in_redis(
    rabbitmq_client: Any,
    rabbitmq_url: str,
    start_worker: Any,
    wire_server: Any,
    redis_url: str,
    namespace: str,
) -> None:
    rabbitmq_client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker(BROKER_URL=rabbitmq_url)

    job_id = rabbitmq_client.submit("chat_completions_without_history", prompt())
    record = rabbitmq_client.wait(job_id, 30)

    assert record["status"] == "succeeded"
    assert record["output"]["assistant_response_text"] == "Hello from the wire server."
    # No message went through a Redis queue.
    keys = redis.Redis.from_url(redis_url).keys(f"{namespace}:dramatiq:*")
    assert keys == []


def test_a_rate_limited_job_is_retried_later_through_rabbitmqs_delay_queue(
    rabbitmq_client: Any, rabbitmq_url: str, start_worker: Any, wire_server: Any
) -> None:
    # Given a provider that answers 429 with Retry-After: 1, then succeeds
    rabbitmq_client.configurations().save(make_configuration("openai", wire_server.url))
    wire_server.script(
        Reply(status=429, json={"error": {"message": "slow down"}}, headers={"Retry-After": "1"})
    )
    worker = start_worker(BROKER_URL=rabbitmq_url)

    # When a job is submitted
    job_id = rabbitmq_client.submit("chat_completions_without_history", prompt())
    record = rabbitmq_client.wait(job_id, 30)

    # Then it succeeds on its second attempt, the retry honouring Retry-After
    assert record["status"] == "succeeded"
    assert record["attempts"] == 2
    assert len(wire_server.requests) == 2
    events = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
    retries = [event for event in events if event.get("event") == "job.retrying"]
    [delay] = [e["delay_s"] for e in retries]
    assert 1.0 <= delay <= 2.0  # what the provider asked, plus jitter, never less


def test_the_async_client_enqueues_on_rabbitmq_too(
    rabbitmq_client: Any,
    rabbitmq_url: str,
    start_worker: Any,
    wire_server: Any,
    redis_url: str,
    namespace: str,
) -> None:
    rabbitmq_client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker(BROKER_URL=rabbitmq_url)

    async def produce() -> Any:
        async with AsyncClient(rabbitmq_client.settings, url=redis_url) as producer:
            job_id = await producer.submit("chat_completions_without_history", prompt())
            return await producer.wait(job_id, 30)

    record = asyncio.run(produce())

    assert record["status"] == "succeeded"
    assert record["output"]["assistant_response_text"] == "Hello from the wire server."
    assert redis.Redis.from_url(redis_url).keys(f"{namespace}:dramatiq:*") == []
