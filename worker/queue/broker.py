"""Building the Dramatiq broker: Redis (namespaced) or RabbitMQ, with our middleware.

``build_broker`` does not touch the global broker, so a producer can hold one to
enqueue without declaring any actor. Jobs travel on ``BROKER_URL`` when it is set
(``amqp://…`` for RabbitMQ); results and configurations always stay in Redis.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.middleware import Retries, TimeLimit

from worker.connections import redis_client
from worker.keys import QUEUE_NAME, Keys
from worker.queue.middleware import JobLogContext, WorkerHeartbeat, host_metrics
from worker.queue.wake import AckWithRecord, WakingRedisBroker
from worker.results import BrokerMessage
from worker.settings import Settings

#: Out of a million broker commands, how many also run queue maintenance, which is
#: when the unacknowledged messages of a worker whose heartbeat stopped are delivered
#: again. Dramatiq's default (1,000) can leave a dead worker's jobs waiting minutes;
#: an idle worker issues a few commands a second, so this finds them within seconds
#: of the heartbeat timeout. Maintenance is a few cheap sorted-set reads.
MAINTENANCE_CHANCE = 100_000
#: Connections to the Redis broker a process keeps at most (see ``redis_client``).
BROKER_POOL_SIZE = 64


def _dramatiq_middleware() -> list[dramatiq.Middleware]:
    """Of Dramatiq's default middleware, the two our actors use: the time limit and
    retries. Age limits, callbacks, pipelines and shutdown notifications are options no
    actor here sets, and every middleware is called several times per message."""
    return [TimeLimit(), Retries()]


def queue_name(settings: Settings) -> str:
    """The name of the jobs queue on the configured broker."""
    return Keys(settings.namespace).broker_queue(rabbitmq=settings.uses_rabbitmq)


def build_broker(
    settings: Settings,
    url: str,
    *,
    for_workers: bool = True,
    job_actors: frozenset[str] = frozenset(),
) -> Any:
    """The broker for ``BROKER_URL``, else a Redis broker on ``url`` under the namespace.

    ``for_workers`` adds the worker heartbeat and, when enabled, the host's Prometheus
    metrics; a producer passes False. When jobs travel on the results' own Redis, the
    final writes of ``job_actors``' jobs acknowledge their messages (``AckWithRecord``).
    """
    broker: Any
    if settings.uses_rabbitmq:
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=settings.broker_url, middleware=_dramatiq_middleware())
    else:
        keys = Keys(settings.namespace)
        broker = WakingRedisBroker(
            wake_channel=keys.wake_channel,
            # Every worker thread acknowledges its own messages: a pool that makes a
            # thread wait for a connection, not fail past redis-py's default of 100.
            client=redis_client(settings.broker_url or url, max_connections=BROKER_POOL_SIZE),
            namespace=keys.dramatiq_namespace,
            heartbeat_timeout=int(settings.heartbeat_timeout_s * 1000),
            maintenance_chance=MAINTENANCE_CHANCE,
            middleware=_dramatiq_middleware(),
        )
    broker.add_middleware(JobLogContext())
    if for_workers:
        broker.add_middleware(WorkerHeartbeat(settings, url))
    on_results_redis = isinstance(broker, WakingRedisBroker) and not settings.broker_url
    if for_workers and job_actors and on_results_redis:
        broker.add_middleware(AckWithRecord(job_actors))
    if for_workers and settings.metrics_port is not None:
        broker.add_middleware(host_metrics(settings))
    return broker


#: The actor that drives the batch tier's groups (``worker.engine.batch_steps``).
BATCH_STEP_ACTOR = "openai_worker_batch_step"


#: The actor that delivers a finished job's webhook (``worker.engine.webhooks``).
WEBHOOK_ACTOR = "openai_worker_deliver_webhook"


def with_record(
    settings: Settings, broker: Any, message: dramatiq.Message[Any]
) -> BrokerMessage | None:
    """``message`` for the result store to queue in the same step as its job's record
    (``submit.lua``), when jobs travel on the results' own Redis; None: the producer
    enqueues it through the broker after the record is written.

    A producer's broker has no middleware that hooks an enqueue, so writing the message
    directly skips nothing.
    """
    if settings.broker_url or not isinstance(broker, WakingRedisBroker):
        return None
    return broker.prepared(message)


def job_message(
    operation: str, job_id: str, payload: dict[str, Any] | None, *, queue: str = QUEUE_NAME
) -> dramatiq.Message[Any]:
    """The message a job travels in: the job id and its payload (None: a batch-tier job
    handed back to be finished, whose payload is stored)."""
    return dramatiq.Message(
        queue_name=queue,
        actor_name=operation,
        args=(job_id, payload),
        kwargs={},
        options={},
    )


def batch_step_message(
    group_id: str, chain: str, *, queue: str = QUEUE_NAME
) -> dramatiq.Message[Any]:
    """The message of one step of a batch group (``worker.engine.batch_steps``)."""
    return dramatiq.Message(
        queue_name=queue, actor_name=BATCH_STEP_ACTOR, args=(group_id, chain), kwargs={}, options={}
    )


def webhook_message(
    job_id: str, webhook_id: str, *, queue: str = QUEUE_NAME
) -> dramatiq.Message[Any]:
    """The message of a job's webhook: the job id and the webhook id, nothing more (the
    record is read when it is sent)."""
    return dramatiq.Message(
        queue_name=queue, actor_name=WEBHOOK_ACTOR, args=(job_id, webhook_id), kwargs={}, options={}
    )
