"""``openai-worker embedded-redis status|start|stop``: the Redis used when REDIS_URL is unset."""

from __future__ import annotations

import argparse
from typing import Any

from worker import embedded_redis
from worker.cli.common import EXIT_OK, emit, load_settings


def cmd_embedded_redis(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.action == "start":
        url = embedded_redis.ensure_running(settings.data_dir)
        emit({"running": True, "url": url})
    elif args.action == "stop":
        emit({"stopped": embedded_redis.stop(settings.data_dir)})
    else:
        running = embedded_redis.is_running(settings.data_dir)
        emit({"running": running, "url": embedded_redis.url_for(settings.data_dir)})
    return EXIT_OK


def register(sub: Any) -> None:
    embedded = sub.add_parser("embedded-redis", help="the embedded Redis (REDIS_URL unset)")
    embedded.add_argument("action", choices=["status", "start", "stop"])
    embedded.set_defaults(func=cmd_embedded_redis)
