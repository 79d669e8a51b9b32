"""``openai-worker api``: the HTTP job API; ``api-token create|list|revoke``: its tokens."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from worker.cli.common import EXIT_INVALID, EXIT_OK, CommandError, connect, emit, load_settings
from worker.tokens import TokenStore

#: Beside the dashboard's 8089; 8080 and 8000 are local model servers' usual ports.
DEFAULT_PORT = 8088


def _store(client: Any) -> TokenStore:
    return TokenStore(client.redis, client.keys)


def cmd_api(args: argparse.Namespace) -> int:
    # Imported here: the other commands start without the web stack.
    from worker.api.server import BindRefused, check_binding, server
    from worker.logs import configure_logging

    settings = load_settings()
    client = connect(settings)
    try:
        check_binding(args.host, _store(client).any())
    except BindRefused as exc:
        raise CommandError(str(exc), code=EXIT_INVALID, error_type="validation") from None
    finally:
        client.close()
    configure_logging(settings.log_format, settings.log_level)
    served = server(settings, client.url, args.host, args.port, allowed_hosts=args.allowed_host)
    sys.stderr.write(f"openai-worker: API on http://{args.host}:{args.port}/\n")
    sys.stderr.flush()
    served.run()
    # uvicorn returns after a clean shutdown; a failed start (port in use) sets this.
    return EXIT_OK if served.started else EXIT_INVALID


def cmd_token(args: argparse.Namespace) -> int:
    client = connect(load_settings())
    store = _store(client)
    try:
        if args.action == "create":
            token = store.create(args.name)
            sys.stderr.write("openai-worker: this token is shown once; only its digest is stored\n")
            emit({"name": args.name, "token": token})
        elif args.action == "list":
            emit(store.list())
        elif not store.revoke(args.name):
            raise CommandError(
                f"no token named {args.name!r}", code=EXIT_INVALID, error_type="not_found"
            )
        else:
            emit({"revoked": args.name})
    finally:
        client.close()
    return EXIT_OK


def register(subparsers: Any) -> None:
    api = subparsers.add_parser("api", help="serve the HTTP job API")
    api.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    api.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"({DEFAULT_PORT})")
    api.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the API answers to, besides the bind address and localhost",
    )
    api.set_defaults(func=cmd_api)

    token = subparsers.add_parser("api-token", help="create, list or revoke the API's tokens")
    actions = token.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a token; print it once")
    create.add_argument("name")
    actions.add_parser("list", help="the tokens' names and creation times")
    revoke = actions.add_parser("revoke", help="revoke a token; it stops working at once")
    revoke.add_argument("name")
    token.set_defaults(func=cmd_token)
