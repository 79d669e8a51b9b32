"""Prometheus metrics: every worker process of a host, counted on one port."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from support import Reply, make_configuration, provider_error

from worker.monitoring.metrics import PrometheusObserver, token_counts

pytestmark = pytest.mark.integration


def prompt() -> dict[str, Any]:
    return {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "Say hi"}


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # noqa: S310
        return str(response.read().decode())


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample, 0 when absent."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            return float(match.group(2))
    return 0.0


def test_two_worker_processes_are_counted_together_on_one_port(
    client: Any,
    start_worker: Any,
    wire_server: Any,
    port: int,
    tmp_path: Path,
    eventually: Any,
) -> None:
    # Given two worker processes on one host serving metrics, and a provider that
    # answers 429 once and then succeeds
    client.configurations().save(make_configuration("openai", wire_server.url))
    wire_server.script(
        Reply(status=429, json={"error": {"message": "slow down"}}, headers={"Retry-After": "0"})
    )
    start_worker(
        processes=2,
        OPENAI_WORKER_METRICS_PORT=str(port),
        OPENAI_WORKER_METRICS_DIR=str(tmp_path / "metrics"),
        OPENAI_WORKER_BACKOFF_BASE_S="0.01",
    )

    # When four jobs succeed and one fails validation at the provider
    ids = [client.submit("chat_completions_without_history", prompt()) for _ in range(4)]
    for job_id in ids:
        assert client.wait(job_id, 30)["status"] == "succeeded"
    wire_server.script(provider_error(400, "bad model", "model_not_found"))
    failed = client.submit("chat_completions_without_history", prompt())
    assert client.wait(failed, 30)["status"] == "failed"

    # Then one scrape shows them all, whichever process ran them
    op = {"operation": "chat_completions_without_history", "configuration": "test"}

    def finished_counted() -> str | None:
        text = scrape(port)
        done = sample(text, "openai_worker_jobs_total", **op, status="failed") == 1
        return text if done else None

    text = eventually(finished_counted)
    assert sample(text, "openai_worker_jobs_total", **op, status="succeeded") == 4
    assert sample(text, "openai_worker_jobs_total", **op, status="failed") == 1
    assert sample(text, "openai_worker_job_failures_total", **op) == 1
    assert sample(text, "openai_worker_job_retries_total", **op, error_type="provider") == 1
    assert sample(text, "openai_worker_tokens_total", **op, kind="total") == 4 * 18
    assert sample(text, "openai_worker_tokens_total", **op, kind="prompt") == 4 * 11
    responses = {"configuration": "test", "path": "chat/completions"}
    assert (
        sample(text, "openai_worker_provider_responses_total", **responses, status_code="200") == 4
    )
    assert (
        sample(text, "openai_worker_provider_responses_total", **responses, status_code="429") == 1
    )
    assert (
        sample(text, "openai_worker_provider_responses_total", **responses, status_code="400") == 1
    )
    assert sample(text, "openai_worker_job_duration_seconds_count", **op, status="succeeded") == 4
    assert sample(text, "openai_worker_provider_request_duration_seconds_count", **responses) == 6
    # and Dramatiq's own middleware counts the messages (the retry is a second delivery)
    assert (
        sample(text, "dramatiq_messages_total", actor_name="chat_completions_without_history") == 6
    )


def test_no_metrics_port_is_opened_when_the_setting_is_unset(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    client.configurations().save(make_configuration("openai", wire_server.url))
    worker = start_worker()

    job_id = client.submit("chat_completions_without_history", prompt())

    assert client.wait(job_id, 30)["status"] == "succeeded"
    assert "exposition" not in worker.log().lower()
    assert "worker.metrics" not in worker.log()


def test_tokens_are_counted_by_kind_from_a_records_usage() -> None:
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18, "details": {}}

    assert token_counts(usage) == {"prompt": 11, "completion": 7, "total": 18}
    assert token_counts(None) == {}


def test_the_observer_counts_a_finished_job_in_its_registry() -> None:
    import prometheus_client

    registry = prometheus_client.CollectorRegistry()
    observer = PrometheusObserver(registry)
    record = {
        "operation": "embeddings",
        "configuration": None,
        "status": "failed",
        "error": {"type": "timeout"},
        "usage": None,
    }

    observer.job_finished(record, 1.5)

    labels = {"operation": "embeddings", "configuration": ""}
    assert (
        registry.get_sample_value("openai_worker_jobs_total", {**labels, "status": "failed"}) == 1
    )
    assert (
        registry.get_sample_value(
            "openai_worker_job_failures_total", {**labels, "error_type": "timeout"}
        )
        == 1
    )


def test_label_values_come_only_from_stored_configurations_and_known_paths(
    wire_server: Any,
) -> None:
    import prometheus_client
    from support import SECRET_KEY

    from worker.configurations import ConfigurationStore, KeyRing, MemoryBackend
    from worker.engine.runner import JobRunner
    from worker.functions import FunctionRegistry
    from worker.results import MemoryResultStore
    from worker.settings import Settings
    from worker.transport import HttpClient

    # Given a runner reporting to a Prometheus registry
    wire_server.handler = lambda _: Reply(json={"ok": True})
    registry = prometheus_client.CollectorRegistry()
    configurations = ConfigurationStore(MemoryBackend(), KeyRing([SECRET_KEY]))
    configurations.save(make_configuration("openai", wire_server.url))
    runner = JobRunner(
        settings=Settings(max_retries=0),
        results=MemoryResultStore(),
        configurations=configurations,
        http=HttpClient(timeout_s=5, connect_timeout_s=2),
        functions=FunctionRegistry(),
        observer=PrometheusObserver(registry),
    )

    # When 100 raw requests name 100 paths, and 20 jobs name configurations that do not exist
    for n in range(100):
        runner.run(f"raw-{n}", "raw_request", {"configuration": "test", "path": f"things/{n}"})
    for n in range(20):
        runner.run(f"ghost-{n}", "configuration_test", {"configuration": f"ghost-{n}"})

    # Then the label values stay a handful
    values: dict[str, set[str]] = {}
    for metric in registry.collect():
        for found in metric.samples:
            for name, value in found.labels.items():
                values.setdefault(name, set()).add(value)
    assert values["path"] == {"/other"}
    assert values["configuration"] == {"test", "unknown"}
    assert len(wire_server.requests) == 100
