"""The asyncio client: jobs it submits run on real workers exactly as ``Client``'s do."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support import SECRET_KEY, make_configuration

from worker import AsyncClient, ValidationError
from worker.settings import Settings

pytestmark = pytest.mark.integration
WAIT_S = 30


def prompt(**extra: Any) -> dict[str, Any]:
    return {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "Say hi", **extra}


def producer(redis_url: str, namespace: str) -> AsyncClient:
    settings = Settings(redis_url=redis_url, namespace=namespace, secret_keys=(SECRET_KEY,))
    return AsyncClient(settings, url=redis_url)


def test_a_job_submitted_from_asyncio_runs_on_a_real_worker_and_is_waited_for(
    client: Any, start_worker: Any, wire_server: Any, redis_url: str, namespace: str
) -> None:
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker()

    async def produce() -> tuple[str, Any, Any]:
        async with producer(redis_url, namespace) as async_client:
            job_id = await async_client.submit("chat_completions_without_history", prompt())
            first = await async_client.result(job_id)
            return job_id, first, await async_client.wait(job_id, WAIT_S)

    job_id, first, record = asyncio.run(produce())

    assert first["job_id"] == job_id
    assert record["status"] == "succeeded"
    assert record["output"]["assistant_response_text"] == "Hello from the wire server."
    assert record["attempts"] == 1
    assert client.result(job_id) == record  # the blocking client reads the same record
    assert len(wire_server.requests) == 1
    assert wire_server.last.json["messages"][-1] == {"role": "user", "content": "Say hi"}


def test_the_async_client_refuses_what_the_client_refuses_and_writes_nothing(
    client: Any, redis_url: str, namespace: str
) -> None:
    bad = {"configuration": "test", "model": "gpt-4o-mini"}  # no user_prompt

    async def submit() -> str:
        async with producer(redis_url, namespace) as async_client:
            return await async_client.submit("chat_completions_without_history", bad)

    with pytest.raises(ValidationError) as refused:
        asyncio.run(submit())
    with pytest.raises(ValidationError) as refused_too:
        client.submit("chat_completions_without_history", bad)

    assert "user_prompt" in str(refused.value.details)
    assert refused.value.details == refused_too.value.details
    assert client.redis.llen(client.keys.queue) == 0
    assert client.results.recent_jobs(10) == []


def test_a_repeated_idempotency_key_names_the_first_job_from_either_client(
    client: Any, redis_url: str, namespace: str
) -> None:
    first = client.submit("chat_completions_without_history", prompt(idempotency_key="order-9"))

    async def submit_again() -> str:
        async with producer(redis_url, namespace) as async_client:
            return await async_client.submit(
                "chat_completions_without_history", prompt(idempotency_key="order-9")
            )

    assert asyncio.run(submit_again()) == first
    assert client.redis.llen(client.keys.queue) == 1  # one message, the first job's
