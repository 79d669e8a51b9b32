"""``openai-worker run``: start worker processes (on the embedded Redis by default)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from worker import embedded_redis
from worker.cli.common import (
    EXIT_ENVIRONMENT,
    EXIT_INVALID,
    CommandError,
    load_settings,
    positive_int,
)
from worker.errors import SettingsError
from worker.queue.launch import worker_command, worker_environment


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        url = settings.redis_url or embedded_redis.ensure_running(settings.data_dir)
    except embedded_redis.EmbeddedRedisError as exc:
        raise CommandError(str(exc), code=EXIT_ENVIRONMENT, error_type="redis") from None
    env = worker_environment(dict(os.environ, REDIS_URL=url))
    if args.replay is not None:
        env["OPENAI_WORKER_REPLAY_DIR"] = _replay_dir(args.replay)
    if "OPENAI_WORKER_LOG_FORMAT" not in env:
        env["OPENAI_WORKER_LOG_FORMAT"] = "console" if sys.stderr.isatty() else "json"
    if not settings.secret_keys:
        sys.stderr.write(
            "openai-worker: warning: OPENAI_WORKER_SECRET_KEY is not set; every job will fail "
            "with a configuration error until it is\n"
        )
    sys.stderr.write(f"openai-worker: starting workers on {url}\n")
    sys.stderr.flush()
    os.execve(sys.executable, worker_command(args.processes, args.threads), env)  # noqa: S606 - replace this process, no shell


def _replay_dir(directory: str) -> str:
    """The replay directory as an absolute path, checked to hold recordings."""
    from worker.transport.replay import load_cassettes

    path = Path(directory).resolve()
    try:
        count = len(load_cassettes(path))
    except SettingsError as exc:
        raise CommandError(str(exc), code=EXIT_INVALID, error_type="validation") from None
    if count == 0:
        raise CommandError(
            f"no recordings in {path} (expected vcrpy cassettes, *.yaml)",
            code=EXIT_INVALID,
            error_type="validation",
        )
    sys.stderr.write(f"openai-worker: offline replay of {count} recordings from {path}\n")
    return str(path)


def register(subparsers: Any) -> None:
    run = subparsers.add_parser("run", help="start worker processes")
    run.add_argument("--processes", type=positive_int, default=os.cpu_count() or 1)
    run.add_argument("--threads", type=positive_int, default=8)
    run.add_argument(
        "--replay", metavar="DIR", help="answer provider calls from the cassettes in DIR, offline"
    )
    run.set_defaults(func=cmd_run)
