"""A Redis that wants a password: every part of the worker connects with it from the URL."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from support import SECRET_KEY, Reply, chat_completion, make_configuration

from worker.client import Client
from worker.dashboard import Dashboard
from worker.embedded_redis import redis_server_binary
from worker.settings import Settings

pytestmark = pytest.mark.integration
PASSWORD = "0d5a9c2e7b14f3a8c6e2d9b0"  # noqa: S105 - a throwaway test server's password


@pytest.fixture
def guarded_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server on a free port that refuses clients without the password."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            PASSWORD,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield url
    client.close()
    server.terminate()
    server.wait(timeout=10)


def test_worker_client_health_and_dashboard_use_a_password_from_the_url(
    guarded_redis: str, start_worker: Any, wire_server: Any, cli: Any, namespace: str
) -> None:
    # Given a Redis that wants a password, and a worker given it in REDIS_URL
    wire_server.handler = lambda _: Reply(json=chat_completion("through the guard"))
    settings = Settings(redis_url=guarded_redis, namespace=namespace, secret_keys=(SECRET_KEY,))
    producer = Client(settings, url=guarded_redis)
    producer.configurations().save(make_configuration("openai", wire_server.url))
    start_worker(REDIS_URL=guarded_redis)

    # Then jobs run, health reads it, and the dashboard shows it
    payload = {"configuration": "test", "model": "m", "user_prompt": "hi"}
    record = producer.wait(producer.submit("chat_completions_without_history", payload), 60)
    assert record["status"] == "succeeded", record["error"]
    code, report, _ = cli("health", REDIS_URL=guarded_redis)
    assert code == 0, report
    assert report["workers"]["alive"] == 1
    status = []
    page = b"".join(
        Dashboard(producer, {"localhost"})(
            {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_HOST": "localhost"},
            lambda s, h: status.append(s),
        )
    )
    assert status == ["200 OK"]
    assert record["job_id"].encode() in page
    producer.close()


def test_a_wrong_password_is_a_clear_error_that_does_not_repeat_it(
    guarded_redis: str, cli: Any
) -> None:
    wrong = guarded_redis.replace(PASSWORD, "not-the-password")

    code, out, _ = cli("configurations", REDIS_URL=wrong)

    assert code == 3
    assert out["error"]["type"] == "redis"
    assert "not-the-password" not in out["error"]["message"]
    assert ":***@127.0.0.1" in out["error"]["message"]
