"""Turns in a real worker process: a few threads at a time run a job's own code, yet
every thread's provider call is in flight at once, and no job keeps a turn it ended with."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support import Reply, chat_completion, make_configuration

pytestmark = pytest.mark.integration
WAIT_S = 30


def prompt(**extra: Any) -> dict[str, Any]:
    return {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "Say hi", **extra}


def test_calls_of_every_thread_are_in_flight_at_once_with_fewer_turns(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    # Given a provider that answers only once 8 calls are waiting at the same time,
    all_waiting = threading.Barrier(8, timeout=15)

    def answer_together(_: Any) -> Reply:
        all_waiting.wait()  # BrokenBarrierError: the server answers 500
        return Reply(json=chat_completion())

    wire_server.handler = answer_together
    client.configurations().save(make_configuration("openai", wire_server.url))
    # and a worker of 8 threads of which 2 at a time may run a job's own code,
    start_worker(threads=8, OPENAI_WORKER_TURNS="2", OPENAI_WORKER_MAX_RETRIES="0")

    # When 8 jobs come,
    job_ids = [client.submit("chat_completions_without_history", prompt()) for _ in range(8)]
    records = [client.wait(job_id, WAIT_S) for job_id in job_ids]

    # Then all 8 calls were waiting at once: a thread gives its turn back while it waits.
    assert [record["status"] for record in records] == ["succeeded"] * 8
    assert not all_waiting.broken
    assert len(wire_server.requests) == 8


def test_a_failed_job_gives_its_turn_back(client: Any, start_worker: Any, wire_server: Any) -> None:
    # Given a worker of 4 threads with one turn among them, and a provider refusing the key,
    wire_server.handler = lambda _: Reply(401, {"error": {"message": "Incorrect API key."}})
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker(threads=4, OPENAI_WORKER_TURNS="1", OPENAI_WORKER_MAX_RETRIES="0")
    failed = [client.submit("chat_completions_without_history", prompt()) for _ in range(3)]
    bad = client.submit("chat_completions_without_history", {"model": "m"}, validate=False)
    assert [client.wait(job_id, WAIT_S)["status"] for job_id in [*failed, bad]] == ["failed"] * 4

    # When the provider answers again,
    wire_server.handler = lambda _: Reply(json=chat_completion())
    later = [client.submit("chat_completions_without_history", prompt()) for _ in range(4)]

    # Then the jobs after them run: the failed ones and the invalid one kept no turn.
    assert [client.wait(job_id, WAIT_S)["status"] for job_id in later] == ["succeeded"] * 4
