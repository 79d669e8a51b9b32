"""The health of a deployment as its Redis and broker see it, for people and probes.

Reads only: Redis reachable, the worker processes' heartbeats (``worker.heartbeats``),
queue depths, dead-lettered messages and the failed-job count. ``problems``
lists what makes the deployment unhealthy against the given thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from worker.broker import QUEUE_NAME, queue_name, uses_rabbitmq
from worker.heartbeats import Heartbeats
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
    report["broker"] = "rabbitmq" if uses_rabbitmq(settings) else "redis"
    queues = (
        _rabbitmq_queues(settings) if uses_rabbitmq(settings) else _redis_queues(client, settings)
    )
    report["workers"] = _workers(client, settings)
    report["queues"] = {queue_name(settings): queues}
    report["failed_jobs"] = int(client.zcard(f"{settings.namespace}:failed"))
    report["problems"] = _problems(report, queues, thresholds)
    report["healthy"] = not report["problems"]
    return report


def _workers(client: redis.Redis, settings: Settings) -> dict[str, Any]:
    heartbeats = [
        {
            "worker_id": ident,
            "last_seen_s": round(age, 1),
            "alive": age < settings.heartbeat_timeout_s,
        }
        for ident, age in sorted(Heartbeats(client, settings.namespace).last_seen().items())
    ]
    alive = sum(1 for beat in heartbeats if beat["alive"])
    return {"alive": alive, "stale": len(heartbeats) - alive, "heartbeats": heartbeats}


def _redis_queues(client: redis.Redis, settings: Settings) -> dict[str, Any]:
    prefix = f"{settings.namespace}:dramatiq:{QUEUE_NAME}"
    return {
        "ready": int(client.llen(prefix)),
        "delayed": int(client.llen(f"{prefix}.DQ")),
        "dead_lettered": int(client.zcard(f"{prefix}.XQ")),
    }


def _rabbitmq_queues(settings: Settings) -> dict[str, Any]:
    """Message counts by passive declaration, which never creates a queue."""
    import pika  # type: ignore[import-untyped]

    assert settings.broker_url is not None
    name = queue_name(settings)
    connection = pika.BlockingConnection(pika.URLParameters(settings.broker_url))
    try:
        counts = {}
        for suffix in ("", ".DQ", ".XQ"):
            channel = connection.channel()
            try:
                declared = channel.queue_declare(name + suffix, passive=True)
                counts[suffix] = int(declared.method.message_count)
            except pika.exceptions.ChannelClosedByBroker:  # not declared yet: no worker ever ran
                counts[suffix] = 0
    finally:
        connection.close()
    return {"ready": counts[""], "delayed": counts[".DQ"], "dead_lettered": counts[".XQ"]}


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
    return problems
