"""``openai-worker dashboard``: the web dashboard, on 127.0.0.1:8089 by default."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from worker.cli.common import EXIT_INVALID, EXIT_OK, CommandError, connect, load_settings


def cmd_dashboard(args: argparse.Namespace) -> int:
    from worker.dashboard import serve

    settings = load_settings()
    try:
        server_args = {"allowed_hosts": args.allowed_host, "token": settings.dashboard_token}
        client = connect(settings)
        server = serve(client, args.host, args.port, **server_args)
    except ValueError as exc:
        raise CommandError(str(exc), code=EXIT_INVALID, error_type="validation") from None
    host, port = server.server_address[:2]
    sys.stderr.write(f"openai-worker: dashboard on http://{host}:{port}/\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        client.close()
    return EXIT_OK


def register(subparsers: Any) -> None:
    dashboard = subparsers.add_parser("dashboard", help="serve the web dashboard")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    dashboard.add_argument("--port", type=int, default=8089)
    dashboard.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the dashboard answers to, besides the bind address and localhost",
    )
    dashboard.set_defaults(func=cmd_dashboard)
