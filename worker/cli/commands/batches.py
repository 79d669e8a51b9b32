"""``openai-worker batches``: the batch tier's groups and their provider batches."""

from __future__ import annotations

import argparse
from typing import Any

from worker.cli.common import EXIT_OK, connect, emit, load_settings, positive_int


def cmd_batches(args: argparse.Namespace) -> int:
    emit(connect(load_settings()).batch_groups(args.limit))
    return EXIT_OK


def register(sub: Any) -> None:
    batches = sub.add_parser(
        "batches", help="the batch tier's groups: state, provider batch, request counts"
    )
    batches.add_argument("--limit", type=positive_int, default=50, metavar="N")
    batches.set_defaults(func=cmd_batches)
