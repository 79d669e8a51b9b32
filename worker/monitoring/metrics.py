"""Metrics: Prometheus counters for every worker process of a host, served on one port.

Worker processes write their values into a shared directory (prometheus_client's
multiprocess mode, as Dramatiq's own middleware does); one exporter process, forked by
Dramatiq next to the workers, reads them all and serves ``/metrics`` on
``OPENAI_WORKER_METRICS_PORT``. The directory is per run of the worker command (named
after its process id), so counters start at zero on every start; directories of runs
that have ended are removed when the next exporter starts.

``prometheus_client`` is imported only once ``PROMETHEUS_MULTIPROC_DIR`` is set: it
chooses between in-memory and shared values when first imported.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from worker.redaction import redact_text
from worker.settings import Settings

PREFIX = "openai_worker"
#: LLM calls take from a fraction of a second to minutes.
DURATION_BUCKETS_S = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, float("inf"))
#: A batch-tier job waits for its provider batch: minutes, up to the 24-hour window (and
#: beyond, when what the batch left undone goes through the standard tier).
BATCH_JOB_BUCKETS_S = (
    60,
    300,
    900,
    1800,
    3600,
    7200,
    14400,
    28800,
    43200,
    86400,
    172800,
    float("inf"),
)
#: The final statuses of a provider batch: the values of the ``status`` label (any
#: other is counted as ``other``, so the label stays a small set).
BATCH_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def host_metrics_dir(settings: Settings) -> Path:
    """This run's shared directory: one per parent (the Dramatiq main process) and namespace."""
    base = settings.metrics_dir or Path(tempfile.gettempdir()) / "openai-worker-metrics"
    directory = base / f"{settings.namespace}-{os.getppid()}"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class PrometheusObserver:
    """A ``JobObserver`` counting jobs, retries, provider answers, tokens and durations,
    and the batch tier's provider batches, their requests and its jobs' waits."""

    def __init__(self, registry: Any = None) -> None:
        import prometheus_client as prom

        def labelled(kind: Any, name: str, doc: str, labels: list[str], **extra: Any) -> Any:
            return kind(f"{PREFIX}_{name}", doc, labels, registry=registry, **extra)

        job = ["operation", "configuration"]
        self.started = labelled(prom.Counter, "jobs_started", "Job attempts started.", job)
        self.finished = labelled(
            prom.Counter, "jobs", "Jobs finished, by final status.", [*job, "status"]
        )
        self.failures = labelled(
            prom.Counter, "job_failures", "Failed jobs, by error type.", [*job, "error_type"]
        )
        self.retries = labelled(
            prom.Counter, "job_retries", "Retries scheduled, by error type.", [*job, "error_type"]
        )
        self.tokens = labelled(
            prom.Counter, "tokens", "Tokens used by finished jobs, by kind.", [*job, "kind"]
        )
        self.duration = labelled(
            prom.Histogram,
            "job_duration_seconds",
            "Duration of a job's final attempt.",
            [*job, "status"],
            buckets=DURATION_BUCKETS_S,
        )
        self.responses = labelled(
            prom.Counter,
            "provider_responses",
            "Provider HTTP answers by status code (0: no answer).",
            ["configuration", "path", "status_code"],
        )
        self.latency = labelled(
            prom.Histogram,
            "provider_request_duration_seconds",
            "Time until a provider's answer (or its absence).",
            ["configuration", "path"],
            buckets=DURATION_BUCKETS_S,
        )
        # No configuration label on the batch tier's metrics: a batch's outcome is
        # about the provider, and a job's wait is about its batch.
        self.batches = labelled(
            prom.Counter, "batches", "Provider batches ended, by final status.", ["status"]
        )
        self.batch_requests = labelled(
            prom.Counter,
            "batch_requests",
            "Requests of ended provider batches: completed, failed, or not run at all.",
            ["state"],
        )
        # Per member, requests, failures and latency are the provider metrics above
        # (labelled by the member's configuration); these are routing's own events.
        self.pool_events = labelled(
            prom.Counter,
            "pool_member_events",
            "Pool members cooled down (cooldown) or taken out of service (out).",
            ["pool", "member", "event"],
        )
        self.batch_job_seconds = labelled(
            prom.Histogram,
            "batch_job_seconds",
            "Seconds from a batch-tier job's submission to its result.",
            [],
            buckets=BATCH_JOB_BUCKETS_S,
        )

    def job_started(self, operation: str, configuration: str | None) -> None:
        self.started.labels(operation, _label(configuration)).inc()

    def job_retrying(self, operation: str, configuration: str | None, error_type: str) -> None:
        self.retries.labels(operation, _label(configuration), error_type).inc()

    def job_finished(self, record: dict[str, Any], duration_s: float) -> None:
        labels = (record["operation"], _label(record.get("configuration")))
        status = record["status"]
        self.finished.labels(*labels, status).inc()
        self.duration.labels(*labels, status).observe(duration_s)
        if status == "failed":
            error_type = (record.get("error") or {}).get("type", "unknown")
            self.failures.labels(*labels, error_type).inc()
        for kind, count in token_counts(record.get("usage")).items():
            self.tokens.labels(*labels, kind).inc(count)
        if record.get("tier") == "batch":
            waited_s = seconds_between(record.get("enqueued_at"), record.get("finished_at"))
            if waited_s is not None:
                self.batch_job_seconds.observe(waited_s)

    def provider_response(
        self, configuration: str, path: str, status_code: int, duration_s: float
    ) -> None:
        self.responses.labels(_label(configuration), path, str(status_code)).inc()
        self.latency.labels(_label(configuration), path).observe(duration_s)

    def pool_member_event(self, pool: str, member: str, event: str) -> None:
        self.pool_events.labels(_label(pool), _label(member), event).inc()

    def batch_ended(self, configuration: str, status: str, request_counts: dict[str, Any]) -> None:
        self.batches.labels(status if status in BATCH_STATUSES else "other").inc()
        completed, failed = _count(request_counts, "completed"), _count(request_counts, "failed")
        self.batch_requests.labels("completed").inc(completed)
        self.batch_requests.labels("failed").inc(failed)
        not_run = _count(request_counts, "total") - completed - failed
        if not_run > 0:
            self.batch_requests.labels("not_run").inc(not_run)


def _label(configuration: str | None) -> str:
    """A configuration name as a label value, through the one redactor like all output."""
    return redact_text(configuration) if configuration else ""


def _count(counts: dict[str, Any], name: str) -> int:
    """One of a batch's ``request_counts``; 0 when absent or not a count."""
    value = counts.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def seconds_between(start: Any, end: Any) -> float | None:
    """Seconds from one ISO 8601 time of a record to another; None when either is
    missing or unreadable, or the end comes first."""
    try:
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def token_counts(usage: Any) -> dict[str, int]:
    """``{"prompt": 11, "completion": 7, "total": 18}`` from a record's usage."""
    if not isinstance(usage, dict):
        return {}
    return {
        key.removesuffix("_tokens"): value
        for key, value in usage.items()
        if key.endswith("_tokens") and isinstance(value, int) and value > 0
    }


def worker_observer(settings: Settings) -> PrometheusObserver:
    """The observer of a worker process, writing into the host's shared directory."""
    os.environ.setdefault(MULTIPROC_ENV, str(host_metrics_dir(settings)))
    return PrometheusObserver()


# --- the exporter ---------------------------------------------------------------------


def render(directory: Path) -> tuple[bytes, str]:
    """Every process's values in ``directory``, in the Prometheus text format."""
    os.environ[MULTIPROC_ENV] = str(directory)
    import prometheus_client as prom
    from prometheus_client import multiprocess

    registry = prom.CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return prom.generate_latest(registry), prom.CONTENT_TYPE_LATEST


def remove_ended_runs(directory: Path) -> None:
    """Delete the directories of earlier runs whose main process has exited."""
    for sibling in directory.parent.glob(f"{directory.name.rsplit('-', 1)[0]}-*"):
        pid = sibling.name.rsplit("-", 1)[-1]
        if sibling != directory and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(sibling, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serve_metrics() -> int:
    """The exporter process Dramatiq forks beside the workers: serve until stopped."""
    settings = Settings.from_env()
    assert settings.metrics_port is not None  # forked only when metrics are enabled
    directory = host_metrics_dir(settings)
    remove_ended_runs(directory)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server naming
            if self.path.split("?", 1)[0] not in ("/", "/metrics"):
                self.send_error(404)
                return
            body, content_type = render(directory)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # scrapes every few seconds would drown the worker log

    server = ThreadingHTTPServer((settings.metrics_host, settings.metrics_port), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
