"""Crashes lose nothing: a killed worker's job is taken over, a Redis restart keeps the queue."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support import SECRET_KEY, Reply, chat_completion, kill_hard, make_configuration, wait_for

from worker import embedded_redis
from worker.client import Client
from worker.queue.launch import worker_command
from worker.settings import Settings

pytestmark = pytest.mark.integration
HEARTBEAT = {"OPENAI_WORKER_HEARTBEAT_TIMEOUT_S": "2"}


def test_a_job_of_a_killed_worker_is_taken_over_by_another(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    # Given a worker in the middle of a slow provider call
    wire_server.script(Reply(json=chat_completion("never delivered"), delay_s=20))
    wire_server.handler = lambda _: Reply(json=chat_completion("from the second worker"))
    client.configurations().save(make_configuration("openai", wire_server.url))
    doomed = start_worker(threads=1, **HEARTBEAT)
    job_id = client.submit("configuration_test", {"configuration": "test", "model": "m"})
    wait_for(lambda: len(wire_server.requests) == 1)
    assert client.result(job_id)["status"] == "running"

    # When it is killed and another worker runs
    kill_hard(doomed)
    start_worker(threads=1, **HEARTBEAT)

    # Then the other worker finishes the job, counting the lost attempt
    record = client.wait(job_id, 60)
    assert record["status"] == "succeeded"
    assert record["output"]["assistant_response_text"] == "from the second worker"
    assert record["attempts"] == 2
    assert len(wire_server.requests) == 2


def test_a_job_longer_than_the_heartbeat_timeout_runs_once(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    # A busy worker keeps its heartbeat, so a slow job is not mistaken for a lost one.
    wire_server.handler = lambda _: Reply(json=chat_completion("slow"), delay_s=4)
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker(threads=1, **HEARTBEAT)
    start_worker(threads=1, **HEARTBEAT)

    record = client.wait(
        client.submit("configuration_test", {"configuration": "test", "model": "m"}), 60
    )

    assert record["status"] == "succeeded"
    assert record["attempts"] == 1
    assert len(wire_server.requests) == 1


def test_queued_jobs_survive_a_redis_restart(tmp_path: Path, wire_server: Any) -> None:
    # Given the embedded Redis (append-only persistence) with jobs queued and no worker
    data_dir = tmp_path / "redis"
    url = embedded_redis.ensure_running(data_dir)
    settings = Settings(redis_url=url, namespace="restart", secret_keys=(SECRET_KEY,))
    producer = Client(settings, url=url)
    producer.configurations().save(make_configuration("azure_api_key", wire_server.url))
    job_ids = [producer.submit("configuration_test", {"configuration": "test"}) for _ in range(3)]
    producer.close()

    try:
        # When Redis stops and starts again
        assert embedded_redis.stop(data_dir)
        assert not embedded_redis.is_running(data_dir)
        url = embedded_redis.ensure_running(data_dir)

        # Then a worker started afterwards runs every job
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_WORKER_")}
        env.update(
            REDIS_URL=url,
            OPENAI_WORKER_NAMESPACE="restart",
            OPENAI_WORKER_SECRET_KEY=SECRET_KEY,
            OPENAI_WORKER_LOG_FORMAT="json",
        )
        worker = subprocess.Popen(
            worker_command(1, 2),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            consumer = Client(settings, url=url)
            records = [consumer.wait(job_id, 60) for job_id in job_ids]
            consumer.close()
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        assert [r["status"] for r in records] == ["succeeded"] * 3
        assert len(wire_server.requests) == 3
    finally:
        embedded_redis.stop(data_dir)
