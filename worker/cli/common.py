"""What every command shares: exit codes, errors, JSON output, settings and Redis.

Exit codes: 0 done as asked; 1 the job failed; 2 invalid input (usage, payload,
configuration); 3 the environment is unusable (settings, Redis, secret key); 4 the job
did not finish within ``--wait``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

import redis

from worker import embedded_redis
from worker.connections import safe_url
from worker.errors import SettingsError
from worker.settings import Settings

if TYPE_CHECKING:
    from worker.client import Client

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_ENVIRONMENT, EXIT_NOT_FINISHED = 0, 1, 2, 3, 4


class CommandError(Exception):
    """A command cannot do what it was asked; carries the exit code and error type."""

    def __init__(self, message: str, *, code: int, error_type: str) -> None:
        super().__init__(message)
        self.message, self.code, self.error_type = message, code, error_type


def emit(value: Any) -> None:
    """Print ``value`` as JSON on stdout (logs and progress go to stderr)."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise CommandError(str(exc), code=EXIT_ENVIRONMENT, error_type="settings") from None


def connect(settings: Settings) -> Client:
    """A client on the deployment's Redis, checked to answer."""
    # Imported here: commands that never reach Redis (``--help``, ``secret-key``) start
    # without the broker.
    from worker.client import Client

    try:
        client = Client(settings)
        client.redis.ping()
    except (redis.RedisError, OSError, embedded_redis.EmbeddedRedisError) as exc:
        where = safe_url(settings.redis_url or "") or f"the embedded server in {settings.data_dir}"
        raise CommandError(
            f"Redis is not reachable at {where}: {exc}", code=EXIT_ENVIRONMENT, error_type="redis"
        ) from None
    return client


def read_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{what} is not valid JSON: {exc}", code=EXIT_INVALID, error_type="validation"
        ) from None


def exit_for(record: dict[str, Any] | None) -> int:
    """The exit code of a command that waited for a job."""
    if record is None or record["status"] not in ("succeeded", "failed"):
        return EXIT_NOT_FINISHED
    return EXIT_OK if record["status"] == "succeeded" else EXIT_FAILED


# --- argument types ---------------------------------------------------------------------


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be a number of seconds >= 0")
    return value


def add_tier_options(parser: argparse.ArgumentParser) -> None:
    """``--tier`` and ``--on-expiry`` of the commands that submit."""
    parser.add_argument(
        "--tier",
        choices=("standard", "batch"),
        help="batch: through the provider's Batch API, half the price, within 24 h "
        "(default: the configuration's default tier)",
    )
    parser.add_argument(
        "--on-expiry",
        choices=("standard", "fail"),
        default="standard",
        help="batch tier: requests an expired or cancelled batch did not answer are sent "
        "at once (standard) or fail the job",
    )


def tier_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"tier": args.tier, "on_expiry": args.on_expiry}
