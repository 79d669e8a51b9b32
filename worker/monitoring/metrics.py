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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from worker.redaction import redact_text
from worker.settings import Settings

PREFIX = "openai_worker"
#: LLM calls take from a fraction of a second to minutes.
DURATION_BUCKETS_S = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, float("inf"))
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def host_metrics_dir(settings: Settings) -> Path:
    """This run's shared directory: one per parent (the Dramatiq main process) and namespace."""
    base = settings.metrics_dir or Path(tempfile.gettempdir()) / "openai-worker-metrics"
    directory = base / f"{settings.namespace}-{os.getppid()}"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class PrometheusObserver:
    """A ``JobObserver`` counting jobs, retries, provider answers, tokens and durations."""

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

    def provider_response(
        self, configuration: str, path: str, status_code: int, duration_s: float
    ) -> None:
        self.responses.labels(_label(configuration), path, str(status_code)).inc()
        self.latency.labels(_label(configuration), path).observe(duration_s)


def _label(configuration: str | None) -> str:
    """A configuration name as a label value, through the one redactor like all output."""
    return redact_text(configuration) if configuration else ""


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
