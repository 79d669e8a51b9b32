"""Prometheus metrics: every worker process of a host, counted on one port."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from support import SECRET_KEY, Reply, make_configuration, provider_error

from worker.batches import BatchGroups, Route
from worker.configurations import ConfigurationStore, KeyRing, MemoryBackend
from worker.engine.batch_steps import BatchSteps
from worker.ledger import MemoryLedgerBackend
from worker.monitoring.metrics import PrometheusObserver, token_counts
from worker.observer import NullObserver
from worker.results import MemoryResultStore
from worker.settings import BatchSettings, Settings
from worker.transport import HttpClient

pytestmark = pytest.mark.integration


def prompt() -> dict[str, Any]:
    return {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "Say hi"}


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # noqa: S310
        return str(response.read().decode())


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample, 0 when absent."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
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


def test_pool_member_events_are_counted_by_pool_member_and_event() -> None:
    import prometheus_client

    registry = prometheus_client.CollectorRegistry()
    observer = PrometheusObserver(registry)

    observer.pool_member_event("chat", "east", "cooldown")
    observer.pool_member_event("chat", "east", "cooldown")
    observer.pool_member_event("chat", "west", "out")

    counted = registry.get_sample_value
    name = "openai_worker_pool_member_events_total"
    assert counted(name, {"pool": "chat", "member": "east", "event": "cooldown"}) == 2
    assert counted(name, {"pool": "chat", "member": "west", "event": "out"}) == 1
    assert counted(name, {"pool": "chat", "member": "east", "event": "out"}) is None
    text = prometheus_client.generate_latest(registry).decode()
    assert sample(text, name, pool="chat", member="west", event="out") == 1


# --- the batch tier -------------------------------------------------------------------

#: Reports a worker process makes, replayed by ``report`` in a process of its own.
OBSERVE = """
import json, sys
from worker.monitoring.metrics import worker_observer
from worker.settings import Settings

observer = worker_observer(Settings.from_env())
for method, args in json.loads(sys.argv[1]):
    getattr(observer, method)(*args)
"""


def batch_job(seconds_waited: int, tier: str = "batch") -> dict[str, Any]:
    """A final record of a job submitted at 10:00:00 and finished ``seconds_waited`` later."""
    record: dict[str, Any] = {
        "operation": "chat_completions_without_history",
        "configuration": "test",
        "status": "succeeded",
        "usage": None,
        "enqueued_at": "2026-11-22T10:00:00.000Z",
        "finished_at": f"2026-11-22T{10 + seconds_waited // 3600:02d}:"
        f"{seconds_waited % 3600 // 60:02d}:{seconds_waited % 60:02d}.000Z",
    }
    if tier == "batch":
        record.update(tier="batch", batch={"on_expiry": "standard"})
    return record


def test_ended_batches_and_batch_jobs_are_counted_across_processes_on_the_exporter(
    namespace: str, port: int, tmp_path: Path, eventually: Any
) -> None:
    # Given the exporter of a host, started as Dramatiq starts it beside the workers
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OPENAI_WORKER_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    environment.update(
        OPENAI_WORKER_NAMESPACE=namespace,
        OPENAI_WORKER_METRICS_PORT=str(port),
        OPENAI_WORKER_METRICS_DIR=str(tmp_path / "metrics"),
    )

    def report(*calls: tuple[str, list[Any]]) -> None:
        """One worker process making these reports to its observer, then exiting."""
        done = subprocess.run(
            [sys.executable, "-c", OBSERVE, json.dumps(calls)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    exporter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from worker.monitoring.metrics import serve_metrics; serve_metrics()",
        ],
        env=environment,
    )
    try:
        # When one worker process sees a batch complete with 7 of 10 requests done and 2
        # failed, a batch-tier job answered after 90 s and a standard-tier job
        report(
            ("batch_ended", ["test", "completed", {"total": 10, "completed": 7, "failed": 2}]),
            ("job_finished", [batch_job(90), 1.0]),
            ("job_finished", [batch_job(30, tier="standard"), 1.0]),
        )
        # and another sees a batch expire with 1 of 5 done, a batch fail without counts
        # and a batch-tier job answered after two hours
        report(
            ("batch_ended", ["other", "expired", {"total": 5, "completed": 1, "failed": 0}]),
            ("batch_ended", ["test", "failed", {}]),
            ("job_finished", [batch_job(7200), 1.0]),
        )
        text = eventually(lambda: scrape(port))
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)

    # Then one scrape adds both processes up: batches by status
    assert sample(text, "openai_worker_batches_total", status="completed") == 1
    assert sample(text, "openai_worker_batches_total", status="expired") == 1
    assert sample(text, "openai_worker_batches_total", status="failed") == 1
    assert sample(text, "openai_worker_batches_total", status="cancelled") == 0
    # requests by what became of them (not run: 10 - 7 - 2, plus 5 - 1 - 0)
    assert sample(text, "openai_worker_batch_requests_total", state="completed") == 8
    assert sample(text, "openai_worker_batch_requests_total", state="failed") == 2
    assert sample(text, "openai_worker_batch_requests_total", state="not_run") == 5
    # and the batch-tier jobs' waits from submission to result, the standard one left out
    assert sample(text, "openai_worker_batch_job_seconds_count") == 2
    assert sample(text, "openai_worker_batch_job_seconds_sum") == 90 + 7200
    assert sample(text, "openai_worker_batch_job_seconds_bucket", le="60.0") == 0
    assert sample(text, "openai_worker_batch_job_seconds_bucket", le="300.0") == 1
    assert sample(text, "openai_worker_batch_job_seconds_bucket", le="3600.0") == 1
    assert sample(text, "openai_worker_batch_job_seconds_bucket", le="7200.0") == 2
    assert sample(text, "openai_worker_batch_job_seconds_bucket", le="+Inf") == 2
    # with no configuration among their labels
    batch_lines = [line for line in text.splitlines() if line.startswith("openai_worker_batch")]
    assert batch_lines
    assert not [line for line in batch_lines if "configuration=" in line]


def test_batch_labels_stay_a_small_set_and_unreadable_times_are_skipped() -> None:
    import prometheus_client

    registry = prometheus_client.CollectorRegistry()
    observer = PrometheusObserver(registry)

    observer.batch_ended("test", "something new", {"total": "many", "completed": True})
    unfinished = {**batch_job(90), "finished_at": None}
    observer.job_finished(unfinished, 1.0)
    observer.job_finished({**batch_job(90), "enqueued_at": "yesterday"}, 1.0)

    assert registry.get_sample_value("openai_worker_batches_total", {"status": "other"}) == 1
    counted = registry.get_sample_value
    assert counted("openai_worker_batch_requests_total", {"state": "completed"}) == 0
    assert counted("openai_worker_batch_requests_total", {"state": "not_run"}) is None
    assert counted("openai_worker_batch_job_seconds_count", {}) == 0


class Scheduled:
    """The queue's side of the batch tier, recorded instead of sent."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.finished: list[tuple[str, str]] = []

    def step(self, group_id: str, delay_s: float) -> None:
        self.waits.append(delay_s)

    def finish(self, jobs: list[tuple[str, str]]) -> None:
        self.finished.extend(jobs)


class BatchesHeard(NullObserver):
    def __init__(self) -> None:
        self.ended: list[tuple[str, str, dict[str, Any]]] = []

    def batch_ended(self, configuration: str, status: str, request_counts: dict[str, Any]) -> None:
        self.ended.append((configuration, status, request_counts))


def test_a_provider_batch_that_ends_is_reported_to_the_observer_once(
    client: Any, wire_server: Any
) -> None:
    # Given a submitted group whose provider batch is in progress at the first poll
    # and completed at the second
    groups = BatchGroups(client.redis, client.keys, 3600)
    route = Route("test", "/v1/chat/completions", "gpt-4o-mini")
    line = json.dumps({"custom_id": "job-1", "method": "POST", "url": route.endpoint, "body": {}})
    group = groups.add("job-1", route, [line], BatchSettings()).group
    assert groups.seal(group, groups.get(group) or {})
    groups.update(group, state="submitted", batch_id="batch_abc")
    counts = {"total": 3, "completed": 2, "failed": 1}
    wire_server.script(
        Reply(json={"id": "batch_abc", "status": "in_progress", "request_counts": counts}),
        Reply(json={"id": "batch_abc", "status": "completed", "request_counts": counts}),
    )
    configurations = ConfigurationStore(MemoryBackend(), KeyRing([SECRET_KEY]))
    configurations.save(make_configuration("openai", wire_server.url))
    scheduler, observer = Scheduled(), BatchesHeard()
    steps = BatchSteps(
        settings=Settings(namespace=client.settings.namespace),
        groups=groups,
        results=MemoryResultStore(),
        configurations=configurations,
        ledgers=MemoryLedgerBackend(),
        http=HttpClient(timeout_s=5, connect_timeout_s=2),
        scheduler=scheduler,
        observer=observer,
    )

    # When its step message runs at the first poll, the second, and once more (a
    # redelivered message)
    waits = [steps.step(group, "token")]
    heard_while_running = list(observer.ended)
    waits += [steps.step(group, "token"), steps.step(group, "token")]

    # Then the observer heard of the batch once, when it had ended, with its counts
    assert heard_while_running == []
    assert observer.ended == [("test", "completed", counts)]
    assert waits[0] is not None
    assert waits[1:] == [None, None]
    assert [r.path for r in wire_server.requests] == ["/v1/batches/batch_abc"] * 2
    assert (groups.get(group) or {})["state"] == "done"
