"""``openai-worker health``: a JSON health report whose exit code a container probe uses.

Exit codes: 0 healthy; 1 unhealthy (see ``problems``); 3 Redis or the broker is not
reachable.
"""

from __future__ import annotations

import argparse
from typing import Any

from worker.cli.common import (
    EXIT_ENVIRONMENT,
    EXIT_FAILED,
    EXIT_OK,
    CommandError,
    connect,
    count,
    emit,
    load_settings,
)
from worker.monitoring.health import Thresholds, check


def cmd_health(args: argparse.Namespace) -> int:
    settings = load_settings()
    thresholds = Thresholds(args.min_workers, args.max_failed, args.max_queue_depth)
    try:
        client = connect(settings)
    except CommandError as exc:
        emit({"healthy": False, "problems": [exc.message], "redis": {"reachable": False}})
        return EXIT_ENVIRONMENT
    try:
        report = check(client.redis, settings, thresholds)
    except Exception as exc:  # noqa: BLE001 - the broker's client raises its own kinds
        emit({"healthy": False, "problems": [f"the broker is not reachable: {exc}"]})
        return EXIT_ENVIRONMENT
    finally:
        client.close()
    emit(report)
    return EXIT_OK if report["healthy"] else EXIT_FAILED


def register(subparsers: Any) -> None:
    health = subparsers.add_parser(
        "health", help="check Redis, live workers, queues and failed jobs (exit 0 if healthy)"
    )
    health.add_argument("--min-workers", type=count, default=1, metavar="N")
    health.add_argument("--max-failed", type=count, metavar="N")
    health.add_argument("--max-queue-depth", type=count, metavar="N")
    health.set_defaults(func=cmd_health)
