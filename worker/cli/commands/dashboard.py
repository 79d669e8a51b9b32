"""``openai-worker dashboard``: the web dashboard, on 127.0.0.1:8089 by default."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from worker.cli.common import EXIT_OK, connect, load_settings


def cmd_dashboard(args: argparse.Namespace) -> int:
    from worker.dashboard import serve

    client = connect(load_settings())
    server = serve(client, args.host, args.port)
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
    dashboard.set_defaults(func=cmd_dashboard)
