"""The ``openai-worker`` subcommands, one module per group of commands.

A module here defines ``register(subparsers)``, adding its subparser(s) with
``set_defaults(func=...)``; a command function takes the parsed arguments and returns
an exit code, raising ``worker.cli.common.CommandError`` for a clear failure. The
helpers they share (``emit``, ``load_settings``, ``connect``) are in ``common``.
"""

from __future__ import annotations

import argparse
import importlib

#: The command modules, in the order ``openai-worker --help`` lists them.
MODULES = (
    "run",
    "configurations",
    "jobs",
    "submit_batch",
    "batches",
    "failed",
    "health",
    "stats",
    "dashboard",
    "api",
    "schemas",
    "embedded_redis",
)


def register_all(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Let every command module add its subcommands."""
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
