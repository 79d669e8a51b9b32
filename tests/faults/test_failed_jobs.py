"""Failed jobs are listed and can run again; dead letters are visible and replayable."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from support import Reply, chat_completion, make_configuration

from worker.keys import QUEUE_NAME

pytestmark = pytest.mark.integration


def test_a_failed_job_is_listed_and_runs_again_from_its_stored_payload(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    wire_server.script(Reply(400, {"error": {"message": "temporarily refused"}}))
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker()
    job_id = client.submit("configuration_test", {"configuration": "test", "model": "m"})
    assert client.wait(job_id, 30)["status"] == "failed"

    listed = client.failed()
    assert [r["job_id"] for r in listed] == [job_id]
    assert listed[0]["error"]["message"] == "temporarily refused"

    assert client.retry(job_id) == job_id
    record = client.wait(job_id, 30)
    assert record["status"] == "succeeded"
    assert client.failed() == []
    assert len(wire_server.requests) == 2


def test_only_failed_jobs_can_be_retried(client: Any, start_worker: Any, wire_server: Any) -> None:
    from worker.errors import ValidationError

    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker()
    job_id = client.submit("configuration_test", {"configuration": "test", "model": "m"})
    client.wait(job_id, 30)

    with pytest.raises(ValidationError, match="only failed jobs"):
        client.retry(job_id)
    with pytest.raises(ValidationError, match="unknown or has expired"):
        client.retry("no-such-job")


def test_dead_letters_are_listed_and_replayed(
    client: Any, start_worker: Any, wire_server: Any, namespace: str
) -> None:
    # Given a message that Dramatiq dead-lettered (as after repeated infrastructure faults)
    wire_server.handler = lambda _: Reply(json=chat_completion("replayed"))
    client.configurations().save(make_configuration("openai", wire_server.url))
    payload = {"configuration": "test", "model": "m"}
    job_id = client.submit("configuration_test", payload)
    queue = f"{namespace}:dramatiq:{QUEUE_NAME}"
    (message_id,) = client.redis.hkeys(f"{queue}.msgs")
    body = client.redis.hget(f"{queue}.msgs", message_id)
    client.redis.delete(queue, f"{queue}.msgs")
    client.redis.zadd(f"{queue}.XQ", {message_id: int(time.time() * 1000)})
    client.redis.hset(f"{queue}.XQ.msgs", message_id, body)

    letters = client.dead_letters().entries()
    assert [(d.job_id, d.operation) for d in letters] == [(job_id, "configuration_test")]
    assert json.loads(body)["args"][1] == payload

    replayed = client.replay_dead_letters()
    start_worker()

    assert replayed == [message_id.decode()]
    assert client.dead_letters().entries() == []
    assert client.wait(job_id, 30)["output"]["assistant_response_text"] == "replayed"
