"""The ``openai-worker`` command line: JSON on stdout, logs on stderr, honest exit codes.

Exit codes: 0 done as asked; 1 the job failed; 2 invalid input (usage, payload,
configuration); 3 the environment is unusable (settings, Redis, secret key); 4 the job
did not finish within ``--wait``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import redis

from worker import embedded_redis
from worker.configuration import API_TYPES, KEY_TYPES, Configuration
from worker.configurations import generate_secret_key
from worker.configurations.crypto import SecretKeyError
from worker.errors import ConfigurationError, SettingsError, ValidationError, WorkerError
from worker.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_ENVIRONMENT, EXIT_NOT_FINISHED = 0, 1, 2, 3, 4
#: The longest an idle worker waits between polls of the queue, in milliseconds.
IDLE_POLL_MS = 100


class CommandError(Exception):
    """A command cannot do what it was asked; carries the exit code and error type."""

    def __init__(self, message: str, *, code: int, error_type: str) -> None:
        super().__init__(message)
        self.message, self.code, self.error_type = message, code, error_type


def emit(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise CommandError(str(exc), code=EXIT_ENVIRONMENT, error_type="settings") from None


def connect(settings: Settings) -> Any:
    from worker.client import Client

    try:
        client = Client(settings)
        client.redis.ping()
    except (redis.RedisError, OSError, embedded_redis.EmbeddedRedisError) as exc:
        where = settings.redis_url or f"the embedded server in {settings.data_dir}"
        raise CommandError(
            f"Redis is not reachable at {where}: {exc}", code=EXIT_ENVIRONMENT, error_type="redis"
        ) from None
    return client


def _read_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{what} is not valid JSON: {exc}", code=EXIT_INVALID, error_type="validation"
        ) from None


# --- commands -------------------------------------------------------------------------


def worker_command(processes: int, threads: int) -> list[str]:
    """The command line of Dramatiq's worker processes for our actors."""
    return [
        sys.executable,
        "-m",
        "dramatiq",
        "worker.actors",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
    ]


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        url = settings.redis_url or embedded_redis.ensure_running(settings.data_dir)
    except embedded_redis.EmbeddedRedisError as exc:
        raise CommandError(str(exc), code=EXIT_ENVIRONMENT, error_type="redis") from None
    env = dict(os.environ, REDIS_URL=url)
    if args.replay is not None:
        env["OPENAI_WORKER_REPLAY_DIR"] = _replay_dir(args.replay)
    # Dramatiq's idle consumers back off up to this many ms between polls; its default
    # (1 s) adds queue wait and slows ramp-up, and polling Redis 10 times a second costs
    # next to nothing (bench/run.py: queue wait p50 30 -> 19 ms, concurrency 0.88 -> 0.91).
    env.setdefault("dramatiq_worker_timeout", str(IDLE_POLL_MS))
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


def cmd_configure(args: argparse.Namespace) -> int:
    settings = load_settings()
    api_key = os.environ.get("OPENAI_WORKER_API_KEY")
    if not api_key:
        if sys.stdin.isatty():
            api_key = getpass.getpass("API key (input hidden): ")
        else:
            api_key = sys.stdin.readline()
    api_key = (api_key or "").strip()
    if not api_key:
        raise CommandError(
            "no API key: pipe it on stdin or set OPENAI_WORKER_API_KEY",
            code=EXIT_INVALID,
            error_type="validation",
        )
    configuration = Configuration(
        name=args.name,
        api_type=args.api_type,
        endpoint=args.endpoint,
        api_key=api_key,
        deployment_name=args.deployment_name,
        api_version=args.api_version,
        key_type=(args.key_type or "api_key") if args.api_type == "azure_openai" else args.key_type,
        organization=args.organization,
        requests_per_minute=args.requests_per_minute,
        tokens_per_minute=args.tokens_per_minute,
    )
    client = connect(settings)
    client.configurations().save(configuration)
    emit({"saved": configuration.public_dict()})
    return EXIT_OK


def cmd_configurations(args: argparse.Namespace) -> int:
    emit(connect(load_settings()).configurations().list())
    return EXIT_OK


def cmd_delete_configuration(args: argparse.Namespace) -> int:
    deleted = connect(load_settings()).configurations().delete(args.name)
    if not deleted:
        raise CommandError(
            f"no configuration named {args.name!r}", code=EXIT_INVALID, error_type="configuration"
        )
    emit({"deleted": args.name})
    return EXIT_OK


def cmd_rotate_secret_key(args: argparse.Namespace) -> int:
    count = connect(load_settings()).configurations().rotate()
    emit({"rotated": count})
    return EXIT_OK


def cmd_secret_key(args: argparse.Namespace) -> int:
    sys.stdout.write(generate_secret_key() + "\n")
    return EXIT_OK


def _exit_for(record: dict[str, Any] | None) -> int:
    if record is None or record["status"] not in ("succeeded", "failed"):
        return EXIT_NOT_FINISHED
    return EXIT_OK if record["status"] == "succeeded" else EXIT_FAILED


def cmd_submit(args: argparse.Namespace) -> int:
    settings = load_settings()
    text = sys.stdin.read() if args.payload in (None, "-") else args.payload
    payload = _read_json(text, "the payload")
    client = connect(settings)
    job_id = client.submit(args.operation, payload)
    if args.wait is None:
        emit({"job_id": job_id})
        return EXIT_OK
    record = client.wait(job_id, args.wait)
    emit(record)
    return _exit_for(record)


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
    return _exit_for(record) if args.wait else EXIT_OK


def cmd_schemas(args: argparse.Namespace) -> int:
    from schemas import to_json_schema
    from worker.operations import OPERATIONS

    documents = {
        name: to_json_schema(op.schema, title=name) | {"description": op.description}
        for name, op in OPERATIONS.items()
    }
    if args.dir is None:
        emit(documents)
        return EXIT_OK
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    for name, document in documents.items():
        (directory / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")
    emit({"written": sorted(str(directory / f"{n}.json") for n in documents)})
    return EXIT_OK


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


# --- parser ---------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be a number of seconds >= 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openai-worker", description="Run OpenAI and Azure OpenAI calls as queued jobs."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start worker processes")
    run.add_argument("--processes", type=_positive_int, default=os.cpu_count() or 1)
    run.add_argument("--threads", type=_positive_int, default=8)
    run.add_argument(
        "--replay", metavar="DIR", help="answer provider calls from the cassettes in DIR, offline"
    )
    run.set_defaults(func=cmd_run)

    conf = sub.add_parser("configure", help="save a configuration (API key from stdin)")
    conf.add_argument("name")
    conf.add_argument("--api-type", required=True, choices=API_TYPES)
    conf.add_argument("--endpoint", required=True)
    conf.add_argument("--deployment-name")
    conf.add_argument("--api-version")
    conf.add_argument("--key-type", choices=KEY_TYPES)
    conf.add_argument("--organization")
    conf.add_argument(
        "--requests-per-minute", type=_positive_int, metavar="N", help="limit shared by all workers"
    )
    conf.add_argument(
        "--tokens-per-minute",
        type=_positive_int,
        metavar="N",
        help="limit shared by all workers (counted from reported usage)",
    )
    conf.set_defaults(func=cmd_configure)

    sub.add_parser("configurations", help="list configurations (never the keys)").set_defaults(
        func=cmd_configurations
    )
    delete = sub.add_parser("delete-configuration", help="remove a configuration")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_delete_configuration)

    submit = sub.add_parser("submit", help="enqueue a job; print its id")
    submit.add_argument("operation")
    submit.add_argument("payload", nargs="?", help="payload JSON, or - (default) for stdin")
    submit.add_argument("--wait", type=_seconds, metavar="SECONDS")
    submit.set_defaults(func=cmd_submit)

    result = sub.add_parser("result", help="print a job's result record")
    result.add_argument("job_id")
    result.add_argument("--wait", type=_seconds, metavar="SECONDS")
    result.set_defaults(func=cmd_result)

    schemas = sub.add_parser("schemas", help="export every payload's JSON Schema")
    schemas.add_argument("dir", nargs="?")
    schemas.set_defaults(func=cmd_schemas)

    sub.add_parser("secret-key", help="print a new key for OPENAI_WORKER_SECRET_KEY").set_defaults(
        func=cmd_secret_key
    )
    sub.add_parser(
        "rotate-secret-key", help="re-encrypt stored API keys with the first secret key"
    ).set_defaults(func=cmd_rotate_secret_key)

    embedded = sub.add_parser("embedded-redis", help="the embedded Redis (REDIS_URL unset)")
    embedded.add_argument("action", choices=["status", "start", "stop"])
    embedded.set_defaults(func=cmd_embedded_redis)

    from worker.commands import register_all

    register_all(sub)
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


if __name__ == "__main__":
    # Run the one ``worker.cli`` module that command modules import, not this ``__main__``
    # copy, so their ``CommandError`` is the class ``main`` catches.
    from worker.cli import main as cli_main

    raise SystemExit(cli_main())
