"""Our Dramatiq middleware: log context per message, heartbeats, host metrics."""

from __future__ import annotations

from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import prometheus as dramatiq_prometheus

from worker.connections import redis_client
from worker.keys import Keys
from worker.monitoring.heartbeats import Beating, Heartbeats
from worker.monitoring.metrics import host_metrics_dir, serve_metrics
from worker.settings import Settings


class JobLogContext(dramatiq.Middleware):
    """Put ``job_id`` and ``operation`` in the log context for the message's lifetime."""

    def before_process_message(self, broker: Any, message: Any) -> None:
        job_id = message.args[0] if message.args else None
        structlog.contextvars.bind_contextvars(job_id=job_id, operation=message.actor_name)

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker: Any, message: Any) -> None:
        structlog.contextvars.clear_contextvars()


class WorkerHeartbeat(dramatiq.Middleware):
    """Keep this worker process's heartbeat (``Keys.workers``) fresh while it runs."""

    def __init__(self, settings: Settings, url: str) -> None:
        self.settings, self.url = settings, url
        self.beating: Beating | None = None

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        heartbeats = Heartbeats(redis_client(self.url), Keys(self.settings.namespace))
        self.beating = Beating(heartbeats, min(5.0, self.settings.heartbeat_timeout_s / 4))
        self.beating.start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        if self.beating is not None:
            self.beating.stop()


class HostMetrics(dramatiq_prometheus.Prometheus):
    """Dramatiq's Prometheus middleware, served by our exporter with our metrics.

    Dramatiq's own exposition process reads its port from ``dramatiq_prom_*``
    variables; ours reads the worker settings, so ``OPENAI_WORKER_METRICS_PORT``
    alone is enough, however the worker was started.
    """

    @property
    def forks(self) -> list[Any]:
        return [serve_metrics]


def host_metrics(settings: Settings) -> HostMetrics:
    """The metrics middleware, writing where this host's exporter reads."""
    # Every process of this host writes its values into one directory, which the
    # exporter process reads; Dramatiq's middleware takes it from this module global.
    dramatiq_prometheus.DB_PATH = str(host_metrics_dir(settings))
    return HostMetrics()
