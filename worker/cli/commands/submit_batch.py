"""``openai-worker submit-batch FILE.jsonl``: submit many jobs, optionally follow them.

Exit codes: 0 every line submitted (and with ``--wait`` every job succeeded); 2 some
lines were invalid (the rest were submitted); 1 some jobs failed; 4 some jobs did not
finish within ``--wait``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from worker.cli.bulk import submit_lines, wait_for, write_records
from worker.cli.common import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_NOT_FINISHED,
    EXIT_OK,
    CommandError,
    add_tier_options,
    connect,
    emit,
    load_settings,
    seconds,
    tier_options,
)


def cmd_submit_batch(args: argparse.Namespace) -> int:
    if args.output is not None and args.wait is None:
        raise CommandError(
            "--output needs --wait (records are written once jobs finish)",
            code=EXIT_INVALID,
            error_type="validation",
        )
    lines = _read_lines(args.file)
    client = connect(load_settings())
    try:
        result = submit_lines(client, lines, **tier_options(args))
        if args.wait is not None:
            wait_for(client, result, args.wait)
    finally:
        client.close()
    summary = result.summary()
    if args.output is not None:
        with open(args.output, "w", encoding="utf-8") as out:
            summary["written"] = write_records(result.records.values(), out)
    for error in summary["errors"]:
        sys.stderr.write(f"openai-worker: line {error['line']}: {error['error']}\n")
    emit(summary)
    statuses = summary.get("statuses", {})
    if args.wait is not None and set(statuses) - {"succeeded", "failed"}:
        return EXIT_NOT_FINISHED
    if statuses.get("failed"):
        return EXIT_FAILED
    return EXIT_INVALID if result.invalid else EXIT_OK


def _read_lines(name: str) -> list[str]:
    if name == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(name).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(
            f"cannot read {name}: {exc}", code=EXIT_INVALID, error_type="validation"
        ) from None


def register(subparsers: Any) -> None:
    batch = subparsers.add_parser(
        "submit-batch", help='submit a JSONL file of {"operation": ..., "payload": ...} lines'
    )
    batch.add_argument("file", help="the JSONL file, or - for stdin")
    batch.add_argument(
        "--wait", type=seconds, metavar="SECONDS", help="follow the jobs until they finish"
    )
    batch.add_argument("--output", metavar="FILE", help="with --wait: write the records as JSONL")
    add_tier_options(batch)
    batch.set_defaults(func=cmd_submit_batch)
