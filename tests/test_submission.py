"""Submitting and retrying are all or nothing: no key names a job that never runs."""

from __future__ import annotations

from typing import Any

import dramatiq
import dramatiq.errors
import pytest
from support import SECRET_KEY

from worker.client import Client
from worker.keys import QUEUE_NAME
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


def test_a_job_is_queued_with_its_record_in_one_step_and_a_repeated_key_queues_nothing(
    namespace: str, client: Any
) -> None:
    # Given a producer on the Redis broker, listening where idle consumers listen
    listener = client.redis.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(client.keys.wake_channel)
    queue = client.keys.queue

    # When it submits a job, and the same idempotency key again
    job_id = client.submit("chat_completions_without_history", PAYLOAD)
    again = client.submit("chat_completions_without_history", PAYLOAD)

    # Then one message is queued, Dramatiq's own decoding reads it as the job, and the
    # job's record says queued; the empty queue's wake-up was announced once
    assert again == job_id
    [message_id] = client.redis.lrange(queue, 0, -1)
    data = client.redis.hget(f"{queue}.msgs", message_id)
    message = dramatiq.Message.decode(data)
    assert (message.actor_name, message.args[0]) == ("chat_completions_without_history", job_id)
    assert message.args[1] == PAYLOAD
    assert message.options["redis_message_id"] == message_id.decode()
    assert client.result(job_id)["status"] == "queued"
    woken = [listener.get_message(timeout=1), listener.get_message(timeout=0.2)]
    assert [m["data"] for m in woken if m] == [QUEUE_NAME.encode()]
    listener.close()
