"""The ``openai-worker`` command line: JSON on stdout, logs on stderr, honest exit codes.

Each command lives in a module of ``commands``; ``common`` holds what they share
(exit codes are listed there).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

import redis

from worker.cli.commands import register_all
from worker.cli.common import (
    EXIT_ENVIRONMENT,
    EXIT_FAILED,
    EXIT_INVALID,
    CommandError,
    emit,
)
from worker.configurations import SecretKeyError
from worker.errors import ConfigurationError, ValidationError, WorkerError
from worker.logs import configure_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openai-worker", description="Run OpenAI and Azure OpenAI calls as queued jobs."
    )
    register_all(parser.add_subparsers(dest="command", required=True))
    return parser


def _fail(message: str, code: int, error_type: str, details: Any = None) -> NoReturn:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if details:
        error["details"] = details
    emit({"error": error})
    sys.stderr.write(f"openai-worker: error: {message}\n")
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Warnings a command's client logs go to stderr, never into the JSON on stdout;
    # commands that serve (``api``, the workers of ``run``) configure their own.
    configure_logging("auto", "WARNING")
    try:
        code: int = args.func(args)
    except CommandError as exc:
        _fail(exc.message, exc.code, exc.error_type)
    except ValidationError as exc:
        _fail(exc.message, EXIT_INVALID, "validation", exc.details)
    except SecretKeyError as exc:
        _fail(exc.message, EXIT_ENVIRONMENT, "configuration")
    except ConfigurationError as exc:
        _fail(exc.message, EXIT_INVALID, "configuration")
    except WorkerError as exc:
        _fail(exc.message, EXIT_FAILED, exc.error_type)
    except redis.RedisError as exc:
        _fail(f"Redis error: {exc}", EXIT_ENVIRONMENT, "redis")
    except KeyboardInterrupt:
        return 130
    return code


__all__ = ["build_parser", "main"]
