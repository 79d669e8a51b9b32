"""Building the Dramatiq broker: Redis (namespaced) or RabbitMQ, with our middleware.

Only this module and ``actors`` import Dramatiq. ``build_broker`` does not touch the
global broker, so a producer can hold one to enqueue without declaring any actor.
Jobs travel on ``BROKER_URL`` when it is set (``amqp://…`` for RabbitMQ); results and
configurations always stay in Redis.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage
from dramatiq.middleware import prometheus as dramatiq_prometheus

from worker.connections import redis_client
from worker.heartbeats import Beating, Heartbeats
from worker.metrics import host_metrics_dir, serve_metrics
from worker.middleware import JobLogContext
from worker.settings import Settings

#: The one queue every operation's actor consumes (on Redis; see ``queue_name``).
QUEUE_NAME = "jobs"
#: Out of a million broker commands, how many also run queue maintenance, which is
#: when the unacknowledged messages of a worker whose heartbeat stopped are delivered
#: again. Dramatiq's default (1,000) can leave a dead worker's jobs waiting minutes;
#: an idle worker issues a few commands a second, so this finds them within seconds
#: of the heartbeat timeout. Maintenance is a few cheap sorted-set reads.
MAINTENANCE_CHANCE = 100_000
AMQP_SCHEMES = ("amqp://", "amqps://")


def uses_rabbitmq(settings: Settings) -> bool:
    return bool(settings.broker_url and settings.broker_url.startswith(AMQP_SCHEMES))


def queue_name(settings: Settings) -> str:
    """The jobs queue's name: RabbitMQ has no key namespace, so the name carries it."""
    return f"{settings.namespace}.{QUEUE_NAME}" if uses_rabbitmq(settings) else QUEUE_NAME


def build_broker(settings: Settings, url: str, *, for_workers: bool = True) -> Any:
    """The broker for ``BROKER_URL``, else a Redis broker on ``url`` under the namespace.

    ``for_workers`` adds the host's Prometheus metrics when they are enabled; a
    producer passes False.
    """
    broker: Any
    if uses_rabbitmq(settings):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=settings.broker_url)
    else:
        broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=settings.broker_url or url,
            namespace=f"{settings.namespace}:dramatiq",
            heartbeat_timeout=int(settings.heartbeat_timeout_s * 1000),
            maintenance_chance=MAINTENANCE_CHANCE,
        )
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(JobLogContext())
    if for_workers:
        broker.add_middleware(WorkerHeartbeat(settings, url))
    if for_workers and settings.metrics_port is not None:
        broker.add_middleware(_host_metrics(settings))
    return broker


class WorkerHeartbeat(dramatiq.Middleware):
    """Keep this worker process's entry in ``{namespace}:workers`` fresh while it runs."""

    def __init__(self, settings: Settings, url: str) -> None:
        self.settings, self.url = settings, url
        self.beating: Beating | None = None

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        heartbeats = Heartbeats(redis_client(self.url), self.settings.namespace)
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


def _host_metrics(settings: Settings) -> HostMetrics:
    # Every process of this host writes its values into one directory, which the
    # exporter process reads; Dramatiq's middleware takes it from this module global.
    dramatiq_prometheus.DB_PATH = str(host_metrics_dir(settings))
    return HostMetrics()


def job_message(
    operation: str, job_id: str, payload: dict[str, Any], *, queue: str = QUEUE_NAME
) -> dramatiq.Message[Any]:
    """The message a job travels in: the job id and its payload."""
    return dramatiq.Message(
        queue_name=queue,
        actor_name=operation,
        args=(job_id, payload),
        kwargs={},
        options={},
    )
