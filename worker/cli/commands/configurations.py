"""``configure``, ``configurations``, ``delete-configuration``, ``secret-key``,
``rotate-secret-key`` and ``webhook-secret``: provider configurations, the key that
encrypts theirs, and the secret that signs webhooks."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from worker.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    CommandError,
    connect,
    emit,
    load_settings,
    positive_int,
)
from worker.configurations import (
    API_TYPES,
    KEY_TYPES,
    TIERS,
    Configuration,
    generate_secret_key,
)
from worker.configurations.pool import STRATEGIES, Member, Pool, parse_member
from worker.webhooks import generate_secret


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
        default_tier=args.default_tier,
        callback_url=args.callback_url,
    )
    client = connect(settings)
    client.configurations().save(configuration)
    if configuration.callback_url and not settings.webhooks.can_sign:
        sys.stderr.write(
            "warning: jobs on this configuration get webhooks only from workers that have "
            "OPENAI_WORKER_WEBHOOK_SECRET set (`openai-worker webhook-secret` prints one); "
            "a worker without it fails them as configuration errors\n"
        )
    emit({"saved": configuration.public_dict()})
    return EXIT_OK


def cmd_configure_pool(args: argparse.Namespace) -> int:
    models: dict[str, str] = {}
    for text in args.model or []:
        name, equals, model = text.partition("=")
        if not equals or not name or not model:
            raise CommandError(
                f"--model takes CONF=MODEL, got {text!r}",
                code=EXIT_INVALID,
                error_type="validation",
            )
        models[name] = model
    members = tuple(parse_member(text) for text in args.member)
    unknown = sorted(set(models) - {member.configuration for member in members})
    if unknown:
        raise CommandError(
            f"--model names configurations that are not members: {', '.join(unknown)}",
            code=EXIT_INVALID,
            error_type="validation",
        )
    pool = Pool(
        name=args.name,
        members=tuple(
            Member(m.configuration, m.weight, models.get(m.configuration)) for m in members
        ),
        strategy=args.strategy,
        fallback=args.fallback,
    )
    connect(load_settings()).configurations().save_pool(pool)
    emit({"saved": pool.public_dict()})
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


def cmd_webhook_secret(args: argparse.Namespace) -> int:
    sys.stdout.write(generate_secret() + "\n")
    return EXIT_OK


def register(sub: Any) -> None:
    conf = sub.add_parser("configure", help="save a configuration (API key from stdin)")
    conf.add_argument("name")
    conf.add_argument("--api-type", required=True, choices=API_TYPES)
    conf.add_argument("--endpoint", required=True)
    conf.add_argument("--deployment-name")
    conf.add_argument("--api-version")
    conf.add_argument("--key-type", choices=KEY_TYPES)
    conf.add_argument("--organization")
    conf.add_argument(
        "--requests-per-minute", type=positive_int, metavar="N", help="limit shared by all workers"
    )
    conf.add_argument(
        "--tokens-per-minute",
        type=positive_int,
        metavar="N",
        help="limit shared by all workers (counted from reported usage)",
    )
    conf.add_argument(
        "--default-tier",
        choices=TIERS,
        default="standard",
        help="the tier of jobs submitted without one (batch: the provider's Batch API)",
    )
    conf.add_argument(
        "--callback-url",
        metavar="URL",
        help="where the webhook of a job goes when its payload names no callback_url",
    )
    conf.set_defaults(func=cmd_configure)

    pool = sub.add_parser(
        "configure-pool", help="save a pool: one name for several configurations, per call"
    )
    pool.add_argument("name")
    pool.add_argument(
        "--member",
        action="append",
        required=True,
        metavar="CONF[:WEIGHT]",
        help="a member configuration, with its weight (default 1); repeat for each",
    )
    pool.add_argument(
        "--model",
        action="append",
        metavar="CONF=MODEL",
        help="the model an OpenAI member sends instead of the payload's",
    )
    pool.add_argument("--strategy", choices=STRATEGIES, default="weighted")
    pool.add_argument(
        "--fallback",
        metavar="POOL_OR_CONF",
        help="tried when every member is cooling down or out of service",
    )
    pool.set_defaults(func=cmd_configure_pool)

    sub.add_parser(
        "configurations", help="list configurations and pools (never the keys)"
    ).set_defaults(func=cmd_configurations)
    delete = sub.add_parser("delete-configuration", help="remove a configuration")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_delete_configuration)

    sub.add_parser("secret-key", help="print a new key for OPENAI_WORKER_SECRET_KEY").set_defaults(
        func=cmd_secret_key
    )
    sub.add_parser(
        "rotate-secret-key", help="re-encrypt stored API keys with the first secret key"
    ).set_defaults(func=cmd_rotate_secret_key)
    sub.add_parser(
        "webhook-secret", help="print a new secret for OPENAI_WORKER_WEBHOOK_SECRET (whsec_…)"
    ).set_defaults(func=cmd_webhook_secret)
