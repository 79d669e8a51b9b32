"""Fixtures for tests that need real services, shared by ``tests/`` and ``contracts/``.

Each suite's ``conftest.py`` imports these fixtures by name:

- ``redis_url`` / ``namespace``: real Redis (``REDIS_URL``, or the embedded server
  started for the session) and a fresh key namespace per test, removed afterwards and
  checked for any plaintext test key first.
- ``start_worker``: real ``dramatiq worker.queue.actors`` processes, started as
  ``openai-worker run`` starts them; their logs are checked for test keys too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import SECRET_KEY, dump_values, leaks

from worker import embedded_redis
from worker.queue.launch import worker_command

# --- real Redis -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``REDIS_URL`` when set; otherwise an embedded server for this test session."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    data_dir = Path(tmp_path_factory.mktemp("redis", numbered=True))
    url = embedded_redis.ensure_running(data_dir)
    yield url
    embedded_redis.stop(data_dir)


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A fresh key prefix, removed after the test, so tests never see each other's keys."""
    import redis

    ns = f"owtest-{uuid.uuid4().hex[:12]}"
    yield ns
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{ns}:*", count=1000))
    leaked = []
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        values = dump_values(client, chunk)
        leaked += [key for key, value in zip(chunk, values, strict=True) if leaks(value)]
        client.delete(*chunk)
    client.close()
    # Every test that touched Redis is also a check that no key, no 12-character fragment
    # of one and no base64 form of one reached it (nor the secret key itself).
    assert not leaked, f"a test key (or a fragment or encoding of it) in Redis keys {leaked}"


# --- real worker processes ------------------------------------------------------------


@dataclass
class WorkerProcess:
    """A real ``dramatiq worker.queue.actors`` process; its stderr goes to ``log_path``."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker's processes (Dramatiq's parent and the workers it forked).

        A test's teardown: a graceful stop takes Dramatiq two seconds (its main loop and
        idle worker threads each look once a second), over a hundred times a suite. Tests
        whose point is the graceful stop call ``stop``.
        """
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its own group: start_new_session
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def worker_env(redis_url: str, namespace: str, **extra: str) -> dict[str, str]:
    """The environment of a worker process for one test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_WORKER_")}
    env.update(
        REDIS_URL=redis_url,
        OPENAI_WORKER_NAMESPACE=namespace,
        OPENAI_WORKER_SECRET_KEY=SECRET_KEY,
        OPENAI_WORKER_LOG_FORMAT="json",
        # Generous: a loaded machine must not turn a slow answer into a retry; tests of
        # timeouts set their own.
        OPENAI_WORKER_TIMEOUT_S="30",
        OPENAI_WORKER_CONNECT_TIMEOUT_S="2",
    )
    env.update(extra)
    return env


@pytest.fixture
def start_worker(
    redis_url: str, namespace: str, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real worker processes: ``start_worker(processes=1, threads=4, **env)``."""
    started: list[WorkerProcess] = []

    def start(processes: int = 1, threads: int = 4, **env: str) -> WorkerProcess:
        log_path = tmp_path / f"worker-{len(started)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                worker_command(processes, threads),
                env=worker_env(redis_url, namespace, **env),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        worker = WorkerProcess(process, log_path)
        started.append(worker)
        deadline = time.monotonic() + 60
        while worker.log().count("Worker process is ready") < processes:
            if process.poll() is not None or time.monotonic() > deadline:
                worker.stop()
                raise RuntimeError(f"worker did not start:\n{worker.log()}")
            time.sleep(0.1)
        return worker

    yield start
    for worker in started:
        worker.kill()
    # Every test with a worker process is also a check that its log holds no key.
    for worker in started:
        log = worker.log().encode()
        assert not leaks(log), "a test key (or a fragment or encoding of it) in a worker log"
