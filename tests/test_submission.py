"""Submitting and retrying are all or nothing: no key names a job that never runs."""

from __future__ import annotations

from typing import Any

import dramatiq.errors
import pytest
from support import SECRET_KEY

from worker.client import Client
from worker.settings import Settings

PAYLOAD = {
    "configuration": "main",
    "model": "m",
    "user_prompt": "hi",
    "idempotency_key": "order-42",
}


def test_a_submission_whose_message_cannot_be_enqueued_frees_its_idempotency_key(
    redis_url: str, namespace: str, client: Any
) -> None:
    # Given a producer whose broker cannot be reached
    unreachable = Settings(
        redis_url=redis_url,
        namespace=namespace,
        secret_keys=(SECRET_KEY,),
        broker_url="amqp://guest:guest@127.0.0.1:1/",
    )
    broken = Client(unreachable, url=redis_url)

    # When it submits a job with an idempotency key
    with pytest.raises(dramatiq.errors.BrokerConnectionError):
        broken.submit("chat_completions_without_history", PAYLOAD)
    broken.close()

    # Then nothing of that job is left, and the key is free for a submission that works
    assert client.redis.keys(f"{namespace}:job:*") == []
    assert client.redis.keys(f"{namespace}:idempotency:*") == []
    job_id = client.submit("chat_completions_without_history", PAYLOAD)
    assert client.result(job_id)["status"] == "queued"
    assert client.submit("chat_completions_without_history", PAYLOAD) == job_id
