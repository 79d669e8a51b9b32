"""Fixtures of the contract suite.

The suite's helper modules (``cases``, ``harness``, ``handmade``) sit next to the tests;
this directory goes on ``sys.path`` so they import by name. The offline-replay test
needs real Redis and a real worker process: ``redis_url`` (``REDIS_URL`` or an
embedded server), ``namespace`` and ``replay_worker``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Appended, not prepended: tests/ (with its own conftest) must keep precedence.
sys.path.append(str(Path(__file__).resolve().parent))

from support import SECRET_KEY  # noqa: E402

from worker import embedded_redis  # noqa: E402


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    data_dir = Path(tmp_path_factory.mktemp("contract-redis", numbered=True))
    url = embedded_redis.ensure_running(data_dir)
    yield url
    embedded_redis.stop(data_dir)


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    import redis

    ns = f"owcontract-{uuid.uuid4().hex[:12]}"
    yield ns
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{ns}:*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture
def replay_worker(
    redis_url: str, namespace: str, tmp_path: Path
) -> Iterator[Callable[[Path], subprocess.Popen[bytes]]]:
    """Start ``dramatiq worker.actors`` answering provider calls from a cassette directory."""
    started: list[subprocess.Popen[bytes]] = []
    log_path = tmp_path / "worker.log"

    def start(replay_dir: Path) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_WORKER_")}
        env.update(
            REDIS_URL=redis_url,
            OPENAI_WORKER_NAMESPACE=namespace,
            OPENAI_WORKER_SECRET_KEY=SECRET_KEY,
            OPENAI_WORKER_REPLAY_DIR=str(replay_dir),
            OPENAI_WORKER_LOG_FORMAT="json",
        )
        command = [sys.executable, "-m", "dramatiq", "worker.actors"]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [*command, "--processes", "1", "--threads", "2"], env=env, stdout=log, stderr=log
            )
        started.append(process)
        deadline = time.monotonic() + 60
        while "Worker process is ready" not in log_path.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
