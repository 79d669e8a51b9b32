"""An idle worker is woken by an enqueue instead of finding the job at its next poll."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
import redis
from support import CommandLog, make_configuration, wait_for

from worker.keys import Keys
from worker.queue.launch import IDLE_POLL_ENV

pytestmark = pytest.mark.integration
#: An idle poll long enough that a job found only by polling waits about a second.
SLOW_POLL_MS = 5_000
IDLE_S = 3.0
JOBS = 3
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"wake-up-test-webhook-secret-0123").decode()


def test_an_idle_worker_takes_a_job_when_it_is_enqueued_not_at_its_next_poll(
    client: Any, start_worker: Any, wire_server: Any, redis_url: str, namespace: str
) -> None:
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker(threads=2, **{IDLE_POLL_ENV: str(SLOW_POLL_MS)})
    connection = redis.Redis.from_url(redis_url)
    channel = Keys(namespace).wake_channel
    # the worker listens once its queue ran dry
    deadline = time.monotonic() + 30
    while not connection.pubsub_numsub(channel)[0][1] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert connection.pubsub_numsub(channel)[0][1] == 1

    waits = []
    for _ in range(JOBS):
        # After this long idle the consumer's back-off between polls is 1-2 s: a job
        # found by polling waits a random part of it (under 0.3 s about 1 time in 5).
        time.sleep(IDLE_S)
        started = time.monotonic()
        job_id = client.submit(
            "chat_completions_without_history",
            {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "hi"},
        )
        record = client.wait(job_id, 30, poll_s=0.005)
        waits.append(time.monotonic() - started)
        assert record["status"] == "succeeded"

    assert max(waits) < 0.3, f"jobs waited {[round(w, 2) for w in waits]} s: no wake-up"


def test_every_finished_job_is_acknowledged_though_acks_go_out_in_batches(
    client: Any, start_worker: Any, wire_server: Any, redis_url: str, namespace: str
) -> None:
    client.configurations().save(make_configuration("openai", wire_server.url))
    worker = start_worker(threads=4)
    connection = redis.Redis.from_url(redis_url)
    messages = f"{Keys(namespace).queue}.msgs"  # Dramatiq deletes a message once acked

    job_ids = [
        client.submit(
            "chat_completions_without_history",
            {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": f"hi {n}"},
        )
        for n in range(10)
    ]
    assert all(client.wait(job_id, 30)["status"] == "succeeded" for job_id in job_ids)
    deadline = time.monotonic() + 10  # a batch waits at most one idle poll
    while connection.hlen(messages) and time.monotonic() < deadline:
        time.sleep(0.05)
    acked_while_running = connection.hlen(messages) == 0
    more = client.submit(
        "chat_completions_without_history",
        {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "last"},
    )
    assert client.wait(more, 30)["status"] == "succeeded"
    worker.stop()  # what is still waiting goes out as the consumer shuts down

    assert acked_while_running
    assert connection.hlen(messages) == 0
    assert len(wire_server.requests) == 11  # and nothing ran twice


def test_a_jobs_final_write_acknowledges_its_message_unless_a_webhook_is_still_to_queue(
    client: Any,
    start_worker: Any,
    wire_server: Any,
    receiver: Any,
    redis_url: str,
    namespace: str,
) -> None:
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker(
        threads=4,
        OPENAI_WORKER_WEBHOOK_SECRET=WEBHOOK_SECRET,
        OPENAI_WORKER_WEBHOOK_ALLOW_HOSTS="127.0.0.1",
    )
    connection = redis.Redis.from_url(redis_url)
    messages = f"{Keys(namespace).queue}.msgs"
    payload = {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "hi"}
    log = CommandLog(redis_url)

    plain = [client.submit("chat_completions_without_history", payload) for _ in range(5)]
    assert all(client.wait(job_id, 30)["status"] == "succeeded" for job_id in plain)
    hooked = client.submit(
        "chat_completions_without_history", {**payload, "callback_url": f"{receiver.url}/hook"}
    )
    assert client.wait(hooked, 30)["status"] == "succeeded"
    wait_for(lambda: len(receiver.requests) == 1 and connection.hlen(messages) == 0, 10)
    commands = log.close()

    acks_in_final_writes = [
        args
        for source, args in commands
        if source == "lua" and args[0] == "SREM" and "__acks__" in args[1]
    ]
    broker_acks = [args for _, args in commands if args[:1] == ["EVALSHA"] and "ack" in args[4:5]]
    # The five plain jobs: acknowledged by the script that made their records final.
    assert len(acks_in_final_writes) == 5
    # The webhook job's message (acknowledged once its webhook was queued) and the
    # webhook's own: by the consumer, as Dramatiq acknowledges.
    assert len(broker_acks) == 2
    assert connection.hlen(messages) == 0
    assert len(wire_server.requests) == 6  # and nothing ran twice
