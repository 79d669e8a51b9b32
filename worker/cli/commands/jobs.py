"""``submit`` and ``result``: enqueue one job, read (or wait for) its record."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from worker.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    CommandError,
    add_tier_options,
    connect,
    emit,
    exit_for,
    load_settings,
    read_json,
    seconds,
    tier_options,
)


def cmd_submit(args: argparse.Namespace) -> int:
    settings = load_settings()
    text = sys.stdin.read() if args.payload in (None, "-") else args.payload
    payload = read_json(text, "the payload")
    client = connect(settings)
    job_id = client.submit(args.operation, payload, **tier_options(args))
    if args.wait is None:
        emit({"job_id": job_id})
        return EXIT_OK
    record = client.wait(job_id, args.wait)
    emit(record)
    return exit_for(record)


def cmd_cancel(args: argparse.Namespace) -> int:
    found = connect(load_settings()).cancel(args.job_id)
    note = "fails as cancelled when its batch's answers come" if found == "batched" else "failed"
    emit({"job_id": args.job_id, "was": found, "now": note})
    return EXIT_OK


def cmd_result(args: argparse.Namespace) -> int:
    client = connect(load_settings())
    record = client.wait(args.job_id, args.wait) if args.wait else client.result(args.job_id)
    if record is None:
        raise CommandError(
            f"no result for job {args.job_id!r} (unknown, or expired)",
            code=EXIT_INVALID,
            error_type="not_found",
        )
    emit(record)
    return exit_for(record) if args.wait else EXIT_OK


def register(sub: Any) -> None:
    submit = sub.add_parser("submit", help="enqueue a job; print its id")
    submit.add_argument("operation")
    submit.add_argument("payload", nargs="?", help="payload JSON, or - (default) for stdin")
    submit.add_argument("--wait", type=seconds, metavar="SECONDS")
    add_tier_options(submit)
    submit.set_defaults(func=cmd_submit)

    cancel = sub.add_parser("cancel", help="cancel a job that has not started running")
    cancel.add_argument("job_id")
    cancel.set_defaults(func=cmd_cancel)

    result = sub.add_parser("result", help="print a job's result record")
    result.add_argument("job_id")
    result.add_argument("--wait", type=seconds, metavar="SECONDS")
    result.set_defaults(func=cmd_result)
