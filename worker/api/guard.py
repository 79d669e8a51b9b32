"""What every request passes before any route: its host name, its origin, its token.

- ``Host`` must be one the API answers to (the bind address, ``localhost``,
  ``--allowed-host``), so a web page cannot reach a loopback API by pointing its own
  name at 127.0.0.1 (DNS rebinding), as for the dashboard. Beyond loopback, where every
  request needs a token, only when ``--allowed-host`` names some.
- A request a browser marks as cross-site (``Sec-Fetch-Site``) is refused: the API is
  for programs, and a page must not spend a loopback API's quota.
- Everything but ``/healthz`` and ``/openapi.json`` needs a bearer token from the store
  (``worker.tokens``), read at every request so a revoked token stops at once. On
  loopback, while the store holds no token, requests need none (as the dashboard
  without its token); beyond loopback an empty store lets nobody in.

Each request is logged once (method, path, status, time, the token's name), never a
header.
"""

from __future__ import annotations

import time
from typing import Any

import redis
import structlog
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worker.api.problems import Problem
from worker.hosts import host_name
from worker.tokens import match

log = structlog.get_logger("worker.api")

#: Paths served without a token: a load balancer's health check, the public document.
OPEN_PATHS = frozenset({"/healthz", "/openapi.json"})


def bearer(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header."""
    scheme, _, token = (value or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


class Guard:
    """ASGI middleware: answers a problem document, or lets the request through."""

    def __init__(
        self, app: ASGIApp, *, allowed_hosts: frozenset[str] | None, loopback: bool
    ) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered: dict[str, Any] = {}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            await send(message)

        problem, token_name = await self.check(scope)
        if problem is not None:
            await problem.response(scope["path"])(scope, receive, sending)
        else:
            await self.app(scope, receive, sending)
        log.info(
            "api.request",
            method=scope["method"],
            path=scope["path"],
            status=answered.get("status"),
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            token_name=token_name,
        )

    async def check(self, scope: Scope) -> tuple[Problem | None, str | None]:
        """The problem that refuses this request (or None), and the name of its token."""
        headers = Headers(scope=scope)
        hosts = self.allowed_hosts
        if hosts is not None and host_name(headers.get("host", "")) not in hosts:
            detail = "add the name this API is reached by with --allowed-host"
            return Problem("unknown-host", detail), None
        if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            return Problem("cross-site", "a web page may not call this API"), None
        if scope["path"] in OPEN_PATHS:
            return None, None
        api = scope["app"].state.api
        try:
            stored = await api.redis.hgetall(api.keys.api_tokens)
        except (redis.RedisError, OSError) as exc:
            detail = f"the tokens could not be read: {type(exc).__name__}"
            return Problem("unavailable", detail), None
        if not stored and self.loopback:
            return None, None
        offered = bearer(headers.get("authorization"))
        name = match(stored, offered)
        if name is None:
            challenge = 'Bearer realm="openai-worker"'
            if offered:
                challenge += ', error="invalid_token"'
            detail = "the token is unknown or revoked" if offered else "no bearer token"
            return Problem("unauthorized", detail, headers={"WWW-Authenticate": challenge}), None
        return None, name
