"""Fixtures shared by the whole suite.

- ``wire_server``: a local HTTP server speaking the providers' wire format; tests script
  its answers and read back every request it received (real HTTP through ``requests``).
- ``provider_config``: one configuration per wire variant (OpenAI, Azure with api-key,
  Azure with an Entra bearer token), pointing at ``wire_server``.
- ``run_job``: runs an operation through the real ``JobRunner`` with in-memory stores,
  retrying immediately when the runner asks, and returns the final result record.
- ``redis_url`` / ``namespace``: real Redis (``REDIS_URL``, or the embedded server
  started for the session) and a fresh key namespace per test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog
from support import SECRET_KEY, TEST_SECRETS, WireServer, dump_value, make_configuration

from worker import embedded_redis
from worker.configuration import Configuration
from worker.configurations import ConfigurationStore, KeyRing, MemoryBackend
from worker.functions import FunctionRegistry
from worker.results import MemoryResultStore
from worker.runner import JobRunner, RetryLater
from worker.settings import Settings
from worker.transport import HttpClient, RetryPolicy


@pytest.fixture
def wire_server() -> Iterator[WireServer]:
    server = WireServer()
    yield server
    server.close()


@pytest.fixture(params=["openai", "azure_api_key", "azure_bearer"])
def provider_config(request: pytest.FixtureRequest, wire_server: WireServer) -> Configuration:
    """Each wire variant in turn, pointing at the wire server."""
    return make_configuration(request.param, wire_server.url)


# --- running operations in-process ----------------------------------------------------


@dataclass
class JobHarness:
    """The real runner with in-memory stores; ``run`` returns the final record."""

    runner: JobRunner
    results: MemoryResultStore
    configurations: ConfigurationStore
    functions: FunctionRegistry
    delays: list[float] = field(default_factory=list)

    def add(self, configuration: Configuration) -> None:
        self.configurations.save(configuration)

    def run(self, operation: str, payload: Any, *, job_id: str | None = None) -> dict[str, Any]:
        job_id = job_id or uuid.uuid4().hex
        while True:
            decision = self.runner.run(job_id, operation, payload)
            if not isinstance(decision, RetryLater):
                record = self.results.get(job_id)
                assert record is not None
                return record
            self.delays.append(decision.delay_s)


@pytest.fixture
def run_job() -> Callable[..., JobHarness]:
    """Build a harness: ``run_job(configuration, max_retries=0, timeout_s=5)``."""

    def build(
        *configurations: Configuration, max_retries: int = 0, timeout_s: float = 5.0
    ) -> JobHarness:
        settings = Settings(
            secret_keys=(SECRET_KEY,),
            max_retries=max_retries,
            timeout_s=timeout_s,
            connect_timeout_s=2.0,
        )
        results = MemoryResultStore()
        store = ConfigurationStore(MemoryBackend(), KeyRing([SECRET_KEY]))
        functions = FunctionRegistry()
        runner = JobRunner(
            settings=settings,
            results=results,
            configurations=store,
            http=HttpClient(timeout_s=timeout_s, connect_timeout_s=2.0),
            functions=functions,
            # No real waiting in unit tests: the delay is recorded, not slept.
            policy=RetryPolicy(max_retries=max_retries, backoff_base_s=0.01, backoff_max_s=0.05),
        )
        harness = JobHarness(runner, results, store, functions)
        for configuration in configurations:
            harness.add(configuration)
        return harness

    return build


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
    leaked = [key for key in keys if any(s in dump_value(client, key) for s in TEST_SECRETS)]
    for key in keys:
        client.delete(key)
    client.close()
    # Every test that touched Redis is also a check that no plaintext key reached it.
    assert not leaked, f"plaintext API key found in Redis keys {leaked}"


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


# --- real worker processes ------------------------------------------------------------


@dataclass
class WorkerProcess:
    """A real ``dramatiq worker.actors`` process; its stderr goes to ``log_path``."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

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
                [
                    sys.executable,
                    "-m",
                    "dramatiq",
                    "worker.actors",
                    "--processes",
                    str(processes),
                    "--threads",
                    str(threads),
                ],
                env=worker_env(redis_url, namespace, **env),
                stdout=log,
                stderr=log,
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
        worker.stop()
    # Every test with a worker process is also a check that its log holds no key.
    for worker in started:
        log = worker.log().encode()
        assert not any(s in log for s in TEST_SECRETS), "plaintext API key in a worker log"


@pytest.fixture
def client(redis_url: str, namespace: str) -> Iterator[Any]:
    """A producing app's client on the test's Redis and namespace."""
    from worker.client import Client

    settings = Settings(redis_url=redis_url, namespace=namespace, secret_keys=(SECRET_KEY,))
    producer = Client(settings, url=redis_url)
    yield producer
    producer.close()


@pytest.fixture
def cli(redis_url: str, namespace: str, tmp_path: Path) -> Any:
    """Run ``openai-worker ARGS`` on the test Redis: (exit code, stdout JSON, stderr)."""

    def run(*args: str, stdin: str = "", **env: str) -> tuple[int, Any, str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_WORKER_")}
        environment.pop("BROKER_URL", None)
        environment.update(
            REDIS_URL=redis_url,
            OPENAI_WORKER_NAMESPACE=namespace,
            OPENAI_WORKER_SECRET_KEY=SECRET_KEY,
            OPENAI_WORKER_DATA_DIR=str(tmp_path / "data"),
        )
        environment.update(env)
        done = subprocess.run(
            # As the installed ``openai-worker`` script runs it (``-m worker.cli`` would
            # load the module twice, as __main__ and as worker.cli).
            [sys.executable, "-c", "from worker.cli import main; raise SystemExit(main())", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=environment,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )
        try:
            out = json.loads(done.stdout) if done.stdout.strip() else None
        except json.JSONDecodeError:
            out = done.stdout
        return done.returncode, out, done.stderr

    return run
