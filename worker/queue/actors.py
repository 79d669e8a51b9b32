"""The Dramatiq actors: one per operation, each a few lines around the runner.

Importing this module declares the broker (before any actor, as Dramatiq binds actors
to the global broker when they are declared). ``openai-worker run`` points Dramatiq's
worker processes here (``launch.ACTORS_MODULE``). What is retried, and when, is
``worker.retries``'s decision; this module only hands it to Dramatiq.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import dramatiq

from worker.catalog import CATALOG
from worker.connections import resolve_redis_url
from worker.engine.runner import RetryLater
from worker.engine.services import ProcessServices, expect_threads, services_for_process
from worker.logs import configure_logging
from worker.queue.broker import (
    BATCH_STEP_ACTOR,
    WEBHOOK_ACTOR,
    batch_step_message,
    build_broker,
    job_message,
    queue_name,
    webhook_message,
)
from worker.queue.threads import WorkerThreads
from worker.retries import INFRASTRUCTURE
from worker.settings import Settings

settings = Settings.from_env()
configure_logging(settings.log_format, settings.log_level)
redis_url = resolve_redis_url(settings)
broker = build_broker(settings, redis_url, job_actors=frozenset(CATALOG))
broker.add_middleware(WorkerThreads(settings, expect_threads))
dramatiq.set_broker(broker)


def _retry_when(retries: int, exception: BaseException) -> bool:
    # The runner asks for each of the job's own retries with ``dramatiq.Retry``.
    return INFRASTRUCTURE.retries(retries, asked_by_runner=isinstance(exception, dramatiq.Retry))


#: A job may run tool loops of several long calls; the per-call timeout still applies.
TIME_LIMIT_MS = 60 * 60 * 1000


class QueueScheduler:
    """The batch tier's scheduler (its steps and hand-backs) and the webhooks' queue, as
    messages on the jobs queue."""

    def step(self, group_id: str, delay_s: float) -> None:
        message = batch_step_message(group_id, uuid.uuid4().hex, queue=queue_name(settings))
        broker.enqueue(message, delay=int(delay_s * 1000) if delay_s > 0 else None)

    def finish(self, jobs: list[tuple[str, str]]) -> None:
        for job_id, operation in jobs:
            broker.enqueue(job_message(operation, job_id, None, queue=queue_name(settings)))

    def deliver(self, job_id: str, webhook_id: str) -> None:
        broker.enqueue(webhook_message(job_id, webhook_id, queue=queue_name(settings)))


scheduler = QueueScheduler()


def _services() -> ProcessServices:
    return services_for_process(settings, redis_url, scheduler, scheduler)


def _back_in_line(delay_s: float) -> dramatiq.Retry:
    """The same message again after ``delay_s`` seconds."""
    return dramatiq.Retry(delay=max(1, int(delay_s * 1000)))


def _make_handler(operation: str) -> Callable[[str, Any], None]:
    def handler(job_id: str, payload: Any) -> None:
        runner = _services().runner
        decision = runner.run(job_id, operation, payload)
        if isinstance(decision, RetryLater):
            raise _back_in_line(decision.delay_s)

    handler.__name__ = operation
    return handler


#: What every actor shares: the queue, and retries decided by ``worker.retries``.
ACTOR_OPTIONS: dict[str, Any] = {
    "queue_name": queue_name(settings),
    "retry_when": _retry_when,
    "min_backoff": INFRASTRUCTURE.min_backoff_ms,
    "max_backoff": INFRASTRUCTURE.max_backoff_ms,
    "time_limit": TIME_LIMIT_MS,
}

ACTORS = {
    name: dramatiq.actor(actor_name=name, **ACTOR_OPTIONS)(_make_handler(name)) for name in CATALOG
}


@dramatiq.actor(actor_name=BATCH_STEP_ACTOR, **ACTOR_OPTIONS)
def batch_step(group_id: str, token: str) -> None:
    """Drive a batch group: seal, upload, create, poll, distribute, clean up. While it
    waits (for the provider), the same message goes back in line with a delay."""
    steps = _services().batch_steps
    assert steps is not None  # built with the scheduler above
    wait_s = steps.step(group_id, token)
    if wait_s is not None:
        raise _back_in_line(wait_s)


#: Webhooks wait behind jobs a process has already fetched: an attempt may hold a thread
#: for ``OPENAI_WORKER_WEBHOOK_TIMEOUT_S`` on a slow receiver, and that thread is a job's.
WEBHOOK_PRIORITY = 10


@dramatiq.actor(actor_name=WEBHOOK_ACTOR, priority=WEBHOOK_PRIORITY, **ACTOR_OPTIONS)
def deliver_webhook(job_id: str, webhook_id: str) -> None:
    """One attempt at a finished job's webhook; until it is delivered, given up or 24
    hours have passed, the same message goes back in line with a delay."""
    webhooks = _services().webhooks
    assert webhooks is not None  # built with the queue above
    wait_s = webhooks.deliver(job_id, webhook_id)
    if wait_s is not None:
        raise _back_in_line(wait_s)
