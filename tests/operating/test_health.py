"""``openai-worker health``: what a container probe and an operator see."""

from __future__ import annotations

from typing import Any

import pytest
from support import make_configuration

pytestmark = pytest.mark.integration


def test_a_deployment_with_a_live_worker_is_healthy(cli: Any, start_worker: Any) -> None:
    start_worker(processes=2)

    code, report, _ = cli("health", "--min-workers", "2")

    assert code == 0
    assert report["healthy"] is True
    assert report["problems"] == []
    assert report["redis"] == {"reachable": True}
    assert report["broker"] == "redis"
    assert report["workers"]["alive"] == 2
    assert all(beat["alive"] for beat in report["workers"]["heartbeats"])
    assert report["queues"]["jobs"] == {"ready": 0, "delayed": 0, "dead_lettered": 0}
    assert report["failed_jobs"] == 0


def test_without_workers_queued_jobs_show_and_the_probe_fails(cli: Any, client: Any) -> None:
    for _ in range(3):
        client.submit(
            "chat_completions_without_history", {"configuration": "x", "user_prompt": "hi"}
        )

    code, report, _ = cli("health")

    assert code == 1
    assert report["healthy"] is False
    assert report["workers"]["alive"] == 0
    assert report["queues"]["jobs"]["ready"] == 3
    assert report["problems"] == ["0 live workers, fewer than 1"]


def test_failed_jobs_are_counted_and_can_be_a_problem(
    cli: Any, client: Any, start_worker: Any, wire_server: Any
) -> None:
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker()
    payload = {"configuration": "missing", "model": "gpt-4o-mini", "user_prompt": "hi"}
    job_id = client.submit("chat_completions_without_history", payload)
    assert client.wait(job_id, 30)["status"] == "failed"

    lenient_code, lenient, _ = cli("health")
    strict_code, strict, _ = cli("health", "--max-failed", "0", "--max-queue-depth", "10")

    assert (lenient_code, lenient["failed_jobs"], lenient["healthy"]) == (0, 1, True)
    assert strict_code == 1
    assert strict["problems"] == ["1 failed jobs, more than 0"]


def test_an_unreachable_redis_is_reported_with_the_environment_exit_code(cli: Any) -> None:
    code, report, _ = cli("health", REDIS_URL="redis://127.0.0.1:9/0")

    assert code == 3
    assert report["healthy"] is False
    assert report["redis"] == {"reachable": False}
    assert "127.0.0.1:9" in report["problems"][0]


def test_health_on_rabbitmq_sees_the_workers_and_the_namespaced_queue(
    cli: Any, start_worker: Any, rabbitmq_url: str, namespace: str
) -> None:
    start_worker(BROKER_URL=rabbitmq_url)

    code, report, _ = cli("health", BROKER_URL=rabbitmq_url)

    assert code == 0, report
    assert report["broker"] == "rabbitmq"
    assert report["workers"]["alive"] == 1
    assert report["queues"] == {f"{namespace}.jobs": {"ready": 0, "delayed": 0, "dead_lettered": 0}}
