"""The waking broker against real Redis: one enqueue is one message, and a wake-up is
published only when the queue was empty."""

from __future__ import annotations

import threading
import time
from typing import Any

import redis

from worker.keys import QUEUE_NAME, Keys
from worker.queue.broker import job_message
from worker.queue.wake import WakingRedisBroker


def broker_for(redis_url: str, namespace: str) -> WakingRedisBroker:
    keys = Keys(namespace)
    broker = WakingRedisBroker(
        wake_channel=keys.wake_channel, url=redis_url, namespace=keys.dramatiq_namespace
    )
    broker.declare_queue(QUEUE_NAME)
    return broker


def wake_ups(pubsub: Any, wait_s: float = 0.5) -> list[bytes]:
    found, deadline = [], time.monotonic() + wait_s
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.05)
        if message is not None:
            found.append(message["data"])
    return found


def test_only_the_enqueue_that_ends_an_empty_queue_wakes_consumers(
    redis_url: str, namespace: str
) -> None:
    broker = broker_for(redis_url, namespace)
    connection = redis.Redis.from_url(redis_url)
    pubsub = connection.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(Keys(namespace).wake_channel)
    wake_ups(pubsub, 0.1)

    for n in range(3):
        broker.enqueue(job_message("configuration_test", f"job-{n}", {"configuration": "x"}))
    broker.enqueue(job_message("configuration_test", "later", {}), delay=60_000)

    assert connection.llen(Keys(namespace).queue) == 3
    assert wake_ups(pubsub) == [QUEUE_NAME.encode()]  # one, for the first
    broker.close()


def test_a_redis_without_the_scripts_still_gets_each_message_once(
    redis_url: str, namespace: str
) -> None:
    broker = broker_for(redis_url, namespace)
    connection = redis.Redis.from_url(redis_url)
    queue = Keys(namespace).queue
    pubsub = connection.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(Keys(namespace).wake_channel)
    wake_ups(pubsub, 0.1)
    broker.enqueue(job_message("configuration_test", "job-1", {"configuration": "x"}))
    connection.lpop(queue)  # as a consumer's fetch would
    wake_ups(pubsub)
    connection.script_flush()  # as after a Redis restart, with this process's broker

    broker.enqueue(job_message("configuration_test", "job-2", {"configuration": "x"}))
    broker.enqueue(job_message("configuration_test", "job-3", {"configuration": "x"}))

    assert connection.llen(queue) == 2  # each once, though Redis refused the first try
    assert wake_ups(pubsub) == [QUEUE_NAME.encode()]  # job-2's, once its retry went through
    broker.close()


def test_a_consumer_with_its_prefetch_full_fetches_as_soon_as_a_message_is_done_with(
    redis_url: str, namespace: str
) -> None:
    broker = broker_for(redis_url, namespace)
    for n in range(2):
        broker.enqueue(job_message("configuration_test", f"job-{n}", {"configuration": "x"}))
    # Given a consumer holding as many messages as it may (one), whose back-off has
    # grown to its longest, a minute,
    consumer = broker.consume(QUEUE_NAME, prefetch=1, timeout=60_000)
    first = next(consumer)
    assert first.args[0] == "job-0"
    consumer.idle_misses = 100
    taken: list[Any] = []

    def take_the_next() -> None:
        message = None
        while message is None:
            message = next(consumer)
        taken.append(message)

    waiting = threading.Thread(target=take_the_next, daemon=True)
    waiting.start()
    time.sleep(0.3)
    assert not taken  # its prefetch is full: the second message stays in Redis
    assert broker.client.llen(Keys(namespace).queue) == 1

    # When its thread is done with the first message
    consumer.ack(first)

    # Then it fetches the second at once, not after its back-off
    waiting.join(10)
    assert [message.args[0] for message in taken] == ["job-1"]
    consumer.close()
    broker.close()
