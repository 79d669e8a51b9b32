"""The health report of a deployment, as its Redis and broker see it.

Reads only: Redis reachable, the worker processes' heartbeats (``heartbeats``), queue
depths and dead-lettered messages in the broker's own layout (names from
``worker.keys``), the failed-job count, and pools' members (``worker.pools.report``: a
member out of service is a problem). ``problems`` lists what makes the
deployment unhealthy against the given thresholds. ``openai-worker health`` prints it
for probes and the dashboard shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from worker import keys as names
from worker.keys import Keys
from worker.monitoring.heartbeats import Heartbeats
from worker.pools.report import pool_report
from worker.settings import Settings


@dataclass(frozen=True)
class Thresholds:
    """What counts as unhealthy: too few live workers, too many failed or waiting jobs."""

    min_workers: int = 1
    max_failed: int | None = None
    max_queue_depth: int | None = None


def check(client: redis.Redis, settings: Settings, thresholds: Thresholds) -> dict[str, Any]:
    """The health report; ``report["healthy"]`` is False when any problem was found."""
    report: dict[str, Any] = {"healthy": True, "problems": [], "redis": {"reachable": True}}
    keys = Keys(settings.namespace)
    rabbitmq = settings.uses_rabbitmq
    report["broker"] = "rabbitmq" if rabbitmq else "redis"
    queue = keys.broker_queue(rabbitmq=rabbitmq)
    queues = _rabbitmq_queues(settings, queue) if rabbitmq else _redis_queues(client, keys)
    report["workers"] = _workers(client, settings, keys)
    report["queues"] = {queue: queues}
    report["failed_jobs"] = int(client.zcard(keys.failed))
    report["pools"] = pool_report(client, keys)
    report["problems"] = _problems(report, queues, thresholds)
    report["healthy"] = not report["problems"]
    return report


def _workers(client: redis.Redis, settings: Settings, keys: Keys) -> dict[str, Any]:
    heartbeats = [
        {
            "worker_id": ident,
            "last_seen_s": round(age, 1),
            "alive": age < settings.heartbeat_timeout_s,
        }
        for ident, age in sorted(Heartbeats(client, keys).last_seen().items())
    ]
    alive = sum(1 for beat in heartbeats if beat["alive"])
    return {"alive": alive, "stale": len(heartbeats) - alive, "heartbeats": heartbeats}


def _redis_queues(client: redis.Redis, keys: Keys) -> dict[str, Any]:
    return {
        "ready": int(client.llen(keys.queue)),
        "delayed": int(client.llen(keys.delayed_queue)),
        "dead_lettered": int(client.zcard(keys.dead_letters)),
    }


def _rabbitmq_queues(settings: Settings, name: str) -> dict[str, Any]:
    """Message counts by passive declaration, which never creates a queue."""
    import pika  # type: ignore[import-untyped]

    assert settings.broker_url is not None
    queues = {
        "ready": name,
        "delayed": names.delayed_queue(name),
        "dead_lettered": names.dead_letter_queue(name),
    }
    connection = pika.BlockingConnection(pika.URLParameters(settings.broker_url))
    try:
        counts = {}
        for kind, queue in queues.items():
            channel = connection.channel()
            try:
                declared = channel.queue_declare(queue, passive=True)
                counts[kind] = int(declared.method.message_count)
            except pika.exceptions.ChannelClosedByBroker:  # not declared yet: no worker ever ran
                counts[kind] = 0
    finally:
        connection.close()
    return counts


def _problems(report: dict[str, Any], queues: dict[str, Any], thresholds: Thresholds) -> list[str]:
    problems = []
    alive = report["workers"]["alive"]
    if alive < thresholds.min_workers:
        problems.append(f"{alive} live workers, fewer than {thresholds.min_workers}")
    if thresholds.max_failed is not None and report["failed_jobs"] > thresholds.max_failed:
        problems.append(f"{report['failed_jobs']} failed jobs, more than {thresholds.max_failed}")
    depth = queues["ready"] + queues["delayed"]
    if thresholds.max_queue_depth is not None and depth > thresholds.max_queue_depth:
        problems.append(f"{depth} jobs waiting, more than {thresholds.max_queue_depth}")
    for pool in report["pools"]:
        for member in pool["out_of_service"]:
            problems.append(
                f"pool {pool['name']!r}: member {member['configuration']!r} is out of service "
                f"({member['reason']}); save its configuration again once it is fixed"
            )
    return problems
