"""Fixtures shared by the whole suite.

- ``wire_server``: a local HTTP server speaking the providers' wire format; tests script
  its answers and read back every request it received (real HTTP through ``requests``).
- ``receiver``: a second such server, answering 204: where webhooks are sent.
- ``provider_config``: one configuration per wire variant (OpenAI, Azure with api-key,
  Azure with an Entra bearer token), pointing at ``wire_server``.
- ``run_job``: runs an operation through the real ``JobRunner`` with in-memory stores,
  retrying immediately when the runner asks, and returns the final result record.
- ``redis_url`` / ``namespace`` / ``start_worker``: real Redis and real worker
  processes, from ``real_services.py`` (shared with ``contracts/``).
- ``client`` / ``cli``: a producing app's client, and the command line run as a process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog
from support import SECRET_KEY, Reply, WireServer, make_configuration

from worker.configurations import Configuration, ConfigurationStore, KeyRing, MemoryBackend
from worker.engine.runner import JobRunner, RetryLater
from worker.functions import FunctionRegistry
from worker.results import MemoryResultStore
from worker.retries import RetryPolicy
from worker.settings import Settings
from worker.transport import HttpClient


@pytest.fixture
def wire_server() -> Iterator[WireServer]:
    server = WireServer()
    yield server
    server.close()


@pytest.fixture
def receiver() -> Iterator[WireServer]:
    """A webhook receiver: answers every request 204 and keeps what it received."""
    server = WireServer()
    server.handler = lambda _: Reply(204, body=b"")
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


# Real Redis and real worker processes (shared with contracts/).
from real_services import namespace, redis_url, start_worker  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


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
