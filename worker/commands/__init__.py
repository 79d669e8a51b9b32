"""Extra ``openai-worker`` subcommands, one module each.

A module here defines ``register(subparsers)``, adding its subparser(s) with
``set_defaults(func=...)``; a command function takes the parsed arguments and returns
an exit code, raising ``worker.cli.CommandError`` for a clear failure. The core
commands live in ``worker/cli.py``, whose helpers (``emit``, ``load_settings``,
``connect``) these modules use.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil


def register_all(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Let every command module add its subcommands."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(subparsers)
