"""``failed``, ``retry``, ``dead-letters`` and ``replay-dead-letters``: nothing is lost."""

from __future__ import annotations

import argparse
from typing import Any

from worker.cli.common import EXIT_OK, connect, emit, load_settings


def cmd_failed(args: argparse.Namespace) -> int:
    records = connect(load_settings()).failed(args.limit)
    emit(
        [
            {
                "job_id": r["job_id"],
                "operation": r["operation"],
                "configuration": r.get("configuration"),
                "error": r["error"],
                "attempts": r["attempts"],
                "finished_at": r["finished_at"],
            }
            for r in records
        ]
    )
    return EXIT_OK


def cmd_retry(args: argparse.Namespace) -> int:
    client = connect(load_settings())
    for job_id in args.job_ids:
        client.retry(job_id)
    emit({"retried": args.job_ids})
    return EXIT_OK


def cmd_dead_letters(args: argparse.Namespace) -> int:
    letters = connect(load_settings()).dead_letters().entries(args.limit)
    emit([letter.summary() for letter in letters])
    return EXIT_OK


def cmd_replay_dead_letters(args: argparse.Namespace) -> int:
    client = connect(load_settings())
    chosen = None if args.all else args.message_ids
    emit({"replayed": client.replay_dead_letters(chosen)})
    return EXIT_OK


def register(sub: Any) -> None:
    failed = sub.add_parser("failed", help="list failed jobs, newest first")
    failed.add_argument("--limit", type=int, default=100)
    failed.set_defaults(func=cmd_failed)

    retry = sub.add_parser("retry", help="run failed jobs again from their stored payloads")
    retry.add_argument("job_ids", nargs="+", metavar="JOB_ID")
    retry.set_defaults(func=cmd_retry)

    dead = sub.add_parser("dead-letters", help="list dead-lettered messages")
    dead.add_argument("--limit", type=int, default=100)
    dead.set_defaults(func=cmd_dead_letters)

    replay = sub.add_parser("replay-dead-letters", help="enqueue dead-lettered messages again")
    group = replay.add_mutually_exclusive_group(required=True)
    group.add_argument("message_ids", nargs="*", default=[], metavar="MESSAGE_ID")
    group.add_argument("--all", action="store_true")
    replay.set_defaults(func=cmd_replay_dead_letters)
