"""Serving the API with uvicorn, after the one check that keeps it private.

uvicorn is a production ASGI server (HTTP/1.1 keep-alive, graceful shutdown on SIGTERM
that lets requests in flight finish); one process serves many long-polls at once on
its event loop.
"""

from __future__ import annotations

from collections.abc import Iterable

import uvicorn

from worker.api.app import create_app
from worker.hosts import host_name, is_loopback
from worker.settings import Settings


class BindRefused(ValueError):
    """Binding beyond loopback with no token in the store: anyone could submit jobs."""


def check_binding(host: str, has_tokens: bool) -> None:
    """Refuse a bind beyond loopback while the store holds no token."""
    if not has_tokens and not is_loopback(host):
        raise BindRefused(
            f"the API binds {host}, beyond this machine, and no API token exists: create "
            "one first (openai-worker api-token create NAME), so only holders of a token "
            "can submit jobs"
        )


def server(
    settings: Settings,
    url: str,
    host: str,
    port: int,
    *,
    allowed_hosts: Iterable[str] = (),
) -> uvicorn.Server:
    """A uvicorn server for the API (``run()`` it); logs go through ``worker.logs``.

    On loopback it answers to the bind address, ``localhost`` and ``allowed_hosts``.
    Beyond loopback every request needs a token, which a page that rebinds its name
    does not have, so any host name is answered unless ``allowed_hosts`` names some.
    """
    loopback = is_loopback(host)
    extra = [name.lower() for name in allowed_hosts]
    names = {host_name(host), "localhost", *extra} if loopback or extra else None
    app = create_app(settings, url, allowed_hosts=names, loopback=loopback)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # the root logger, set up by configure_logging, takes uvicorn's
        access_log=False,  # the guard logs each request, without its headers
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)
