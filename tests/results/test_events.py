"""Every change of status is an event: an entry of the namespace's stream, and a final
one a message on the job's ended channel, written in the same step as the record."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from worker.keys import Keys
from worker.results import RedisResultStore, new_record
from worker.results.store import NOTICE_RECORD_MAX_CHARS, WEBHOOK_FIELD, decode_record

OPERATION = "chat_completions_without_history"


@pytest.fixture
def connection(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def store(connection: redis.Redis, namespace: str) -> RedisResultStore:
    return RedisResultStore(connection, Keys(namespace), ttl_s=60, events_maxlen=1000)


def events(connection: redis.Redis, namespace: str) -> list[dict[str, str]]:
    """The stream's entries, oldest first, as text."""
    return [
        {name.decode(): value.decode() for name, value in fields.items()}
        for _, fields in connection.xrange(Keys(namespace).events)
    ]


def event(job: str, status: str, configuration: str = "main") -> dict[str, str]:
    return {"job": job, "status": status, "operation": OPERATION, "configuration": configuration}


@pytest.fixture
def listen(connection: redis.Redis, namespace: str) -> Iterator[Callable[[str], Any]]:
    """``listen(job_id)``: a subscriber to the job's ended channel, confirmed."""
    subscribers = []

    def subscribe(job_id: str) -> Any:
        pubsub = connection.pubsub()
        pubsub.subscribe(Keys(namespace).job_ended(job_id))
        assert pubsub.get_message(timeout=2)["type"] == "subscribe"
        subscribers.append(pubsub)
        return pubsub

    yield subscribe
    for pubsub in subscribers:
        pubsub.close()


def heard(pubsub: Any, timeout_s: float = 2.0) -> list[str]:
    """The messages a subscriber received (its subscription confirmed first)."""
    found, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message is not None:
            found.append(message["data"].decode())
        elif found:
            break
    return found


def test_a_jobs_life_is_in_the_stream_in_order_and_its_end_on_its_channel(
    store: RedisResultStore, connection: redis.Redis, namespace: str, listen: Any
) -> None:
    pubsub = listen("e1")
    queued = new_record("e1", OPERATION, "main")

    store.submit(queued, OPERATION, {"configuration": "main"})
    store.start("e1", "2026-11-22T18:00:00.000Z")
    store.put({**queued, "status": "retrying", "attempts": 1})
    store.put({**queued, "status": "retrying", "attempts": 1, "waited_s": 2.0})  # no change
    store.put({**queued, "status": "running", "attempts": 2})
    store.put({**queued, "status": "succeeded", "success": True, "attempts": 2})
    store.put({**queued, "status": "running", "attempts": 3})  # refused: it is final

    assert events(connection, namespace) == [
        event("e1", "queued"),
        event("e1", "running"),
        event("e1", "retrying"),
        event("e1", "running"),
        event("e1", "succeeded"),
    ]
    # Only the final status is published, with the record as a waiter would read it
    [message] = heard(pubsub)
    status, webhook, record = message.split("\n", 2)
    assert (status, webhook) == ("succeeded", "")
    assert decode_record(record) == (store.get("e1", with_webhook=True), None)


def test_the_ended_message_carries_the_webhook_state_a_read_would_show(
    store: RedisResultStore, connection: redis.Redis, namespace: str, listen: Any
) -> None:
    pubsub = listen("h1")
    queued = new_record("h1", OPERATION, "main")
    store.submit(queued, OPERATION, {})
    # A state the hash holds already (as deliveries leave it from an earlier end)
    state = {"id": "msg_1", "status": "delivered", "attempts": 1}
    connection.hset(Keys(namespace).job("h1"), WEBHOOK_FIELD, json.dumps(state))

    store.put({**queued, "status": "failed", "success": False, "error": {"type": "x"}})

    [message] = heard(pubsub)
    status, webhook, record = message.split("\n", 2)
    assert status == "failed"
    shown = store.get("h1", with_webhook=True)
    assert shown is not None
    assert shown["webhook"] == state
    assert decode_record(record, webhook) == (shown, None)


def test_a_long_record_or_one_kept_in_parts_is_announced_by_its_status_alone(
    connection: redis.Redis, namespace: str, listen: Any
) -> None:
    store = RedisResultStore(connection, Keys(namespace), ttl_s=60, part_bytes=1_000)
    long_output = {"text": "x" * NOTICE_RECORD_MAX_CHARS}
    in_parts = {"text": "y" * 5_000}  # short, but over the part size
    for job_id, output in (("l1", long_output), ("p1", in_parts)):
        pubsub = listen(job_id)
        queued = new_record(job_id, OPERATION, "main")
        store.submit(queued, OPERATION, {})

        store.put({**queued, "status": "succeeded", "success": True, "output": output})

        assert heard(pubsub) == ["succeeded"]
        found = store.get(job_id)
        assert found is not None
        assert found["output"] == output


def test_cancelling_retrying_and_withdrawing_are_events_too(
    store: RedisResultStore, connection: redis.Redis, namespace: str, listen: Any
) -> None:
    pubsub = listen("c1")
    first = new_record("c1", OPERATION, None)
    store.submit(first, OPERATION, {})

    store.cancel("c1", {"type": "cancelled", "message": "by an operator"})
    store.requeue_failed(first)
    store.submit(new_record("w1", OPERATION, "main"), OPERATION, {}, "key-1")
    store.withdraw("w1", "key-1")

    assert events(connection, namespace) == [
        event("c1", "queued", ""),
        event("c1", "failed", ""),
        event("c1", "queued", ""),
        event("w1", "queued"),
        event("w1", "withdrawn"),
    ]
    assert heard(pubsub) == ["failed"]


def test_batched_jobs_are_events_once_each_as_their_status_changes(
    store: RedisResultStore, connection: redis.Redis, namespace: str
) -> None:
    for job in ("b1", "b2"):
        store.submit(new_record(job, OPERATION, "main", on_expiry="standard"), OPERATION, {})

    store.merge_batch(["b1", "b2"], {"group": "g1"}, "batched")
    store.merge_batch(["b1", "b2"], {"provider_batch_id": "batch_1"}, "batched")  # no change

    assert events(connection, namespace)[2:] == [event("b1", "batched"), event("b2", "batched")]


def test_the_stream_is_capped_near_its_length(
    connection: redis.Redis, namespace: str, redis_url: str
) -> None:
    store = RedisResultStore(connection, Keys(namespace), ttl_s=60, events_maxlen=100)

    for n in range(1000):
        store.submit(new_record(f"j{n}", OPERATION, "main"), OPERATION, {})

    # ``MAXLEN ~``: Redis trims whole nodes of the stream, so it keeps a little more.
    assert 100 <= connection.xlen(Keys(namespace).events) < 300
    assert events(connection, namespace)[-1] == event("j999", "queued")
