"""Worker processes of many threads share a burst: each takes no more jobs than it has
threads, so the jobs none can start yet stay in Redis for whichever worker frees a
thread first."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support import Reply, chat_completion, make_configuration, wait_for

from worker.queue.threads import ONE_MESSAGE_PER_THREAD_PAST

pytestmark = pytest.mark.integration
WAIT_S = 60
#: Threads a process: just past the point where it holds one message per thread.
THREADS = ONE_MESSAGE_PER_THREAD_PAST + 1
SLOTS = 2 * THREADS


def test_a_burst_is_shared_and_what_no_thread_can_start_stays_in_redis(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    # Given a provider that holds its first calls, one per thread of two processes,
    # until all of them have come and it is told to answer,
    first_calls = threading.Barrier(SLOTS, timeout=30)
    answer = threading.Event()
    seen = []
    lock = threading.Lock()

    def hold_the_first_calls(_: Any) -> Reply:
        with lock:
            seen.append(len(seen))
            held = len(seen) <= SLOTS
        if held:
            first_calls.wait()  # BrokenBarrierError: the server answers 500
            answer.wait(30)
        return Reply(json=chat_completion())

    wire_server.handler = hold_the_first_calls
    client.configurations().save(make_configuration("openai", wire_server.url))
    # and two worker processes,
    start_worker(processes=2, threads=THREADS, OPENAI_WORKER_MAX_RETRIES="0")

    # When a burst of two jobs more than their threads comes,
    prompt = {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "Say hi"}
    job_ids = [client.submit("chat_completions_without_history", prompt) for _ in range(SLOTS + 2)]

    # Then every thread of both processes calls at once, and the 2 jobs no thread can
    # start yet are still in Redis, not held by a busy process
    wait_for(lambda: len(seen) >= SLOTS and first_calls.n_waiting == 0, 40)
    assert not first_calls.broken
    assert client.redis.llen(client.keys.queue) == 2
    answer.set()
    records = [client.wait(job_id, WAIT_S) for job_id in job_ids]
    assert [record["status"] for record in records] == ["succeeded"] * (SLOTS + 2)
    assert len(wire_server.requests) == SLOTS + 2
