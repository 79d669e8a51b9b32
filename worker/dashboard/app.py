"""The dashboard as a tiny WSGI app over a ``Client``; served by the standard library.

Reads what ``health`` reads plus recent job records (from the newest-first index,
without their outputs), the batch tier's newest groups and the per-minute buckets the
charts plot (``figures``). The one script, ``/static/refresh.js``, fetches the charts
again from ``/fragments/charts`` every few seconds, through the same checks as a page.
Every request must name one of the allowed hosts in ``Host``, so a page on another site
cannot reach it through DNS rebinding; with a token (``OPENAI_WORKER_DASHBOARD_TOKEN``,
required when bound beyond loopback) every request must carry it too, as the cookie the
login form sets or as ``Authorization: Bearer``.
The only write is "retry a failed job": POST only, and refused unless the browser says
the request comes from the dashboard's own origin (``Origin``, else ``Referer``;
``Sec-Fetch-Site`` when sent). Records pass the worker's redactor before they are
stored, so nothing shown holds a key.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Iterable
from importlib.resources import files
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from worker.dashboard import configuration_page, pages
from worker.dashboard.figures import DEFAULT_SPAN, SPANS, Span, read_figures
from worker.dashboard.panel import charts_panel, configuration_path, range_switch
from worker.errors import ValidationError
from worker.hosts import host_name, is_loopback
from worker.monitoring.health import Thresholds, check

StartResponse = Callable[..., Any]
#: How many recent jobs the overview shows (read from the index, never their outputs).
SHOWN = 50
#: How many of the batch tier's groups the overview shows, newest first.
SHOWN_GROUPS = 50
#: The cookie the login form sets.
SESSION_COOKIE = "openai_worker_dashboard"
_LOGIN_BODY_LIMIT = 4096
#: How many failed jobs a configuration's page looks through, and shows at most.
FAILED_READ, FAILED_SHOWN = 500, 25
#: Scripts only from here (no inline script, no eval), fetches only to here; forms may
#: only post back here; no framing (clickjacking).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HTML, JAVASCRIPT = "text/html; charset=utf-8", "text/javascript; charset=utf-8"
REFRESH_SCRIPT = files("worker.dashboard").joinpath("static/refresh.js").read_bytes()
_JOB = re.compile(r"^/jobs/([^/]+)$")
_RETRY = re.compile(r"^/jobs/([^/]+)/retry$")
_CONFIGURATION = re.compile(r"^/configurations/(.+)$")


class Dashboard:
    """``Dashboard(client, allowed_hosts, token)`` is a WSGI application."""

    def __init__(
        self, client: Any, allowed_hosts: Iterable[str] = ("localhost",), token: str | None = None
    ) -> None:
        self.client = client
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self.token = token or None

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO") or "/", environ["REQUEST_METHOD"]
        if host_name(environ.get("HTTP_HOST", "")) not in self.allowed_hosts:
            text = "this dashboard does not answer to that host name (see --allowed-host)"
            return _respond(start, 400, pages.message("unknown host", text))
        if self.token is not None:
            if path == "/login":
                return self.login(environ, start)
            if not self.authorized(environ):
                return _respond(start, 303, pages.message("sign in", ""), [("Location", "/login")])
        return self.route(path, method, environ, start)

    def route(
        self, path: str, method: str, environ: dict[str, Any], start: StartResponse
    ) -> Iterable[bytes]:
        if (match := _RETRY.match(path)) is not None:
            if method != "POST":
                return _respond(start, 405, pages.message("retry", "use POST"), [("Allow", "POST")])
            return self.retry(environ, start, unquote(match.group(1)))
        if method not in ("GET", "HEAD"):
            return _respond(start, 405, pages.message("not allowed", method), [("Allow", "GET")])
        query = parse_qs(environ.get("QUERY_STRING", ""))
        span = SPANS.get((query.get("range") or [DEFAULT_SPAN.name])[0])
        if span is None:
            text = f"range is one of {', '.join(SPANS)}"
            return _respond(start, 400, pages.message("unknown range", text))
        if path == "/static/refresh.js":
            return _respond(start, 200, REFRESH_SCRIPT, content_type=JAVASCRIPT)
        if path == "/fragments/charts":
            named = (query.get("configuration") or [None])[0]
            fragment = self.charts(span, named, None if named else self.health())
            return _respond(start, 200, fragment, [("Cache-Control", "no-store")])
        if path == "/":
            health = self.health()
            charts = range_switch(span, "/") + self.charts(span, None, health)
            jobs, groups = self.recent_jobs(), self.batch_groups()
            return _respond(start, 200, pages.overview(health, jobs, groups, charts))
        if (match := _CONFIGURATION.match(path)) is not None:
            name = wsgi_text(match.group(1))
            switch = range_switch(span, configuration_path(name))
            page = configuration_page.configuration(
                name, switch, self.charts(span, name, None), self.failed_of(name)
            )
            return _respond(start, 200, page)
        if (match := _JOB.match(path)) is not None:
            # Never the output kept in parts (up to about a gigabyte): a page cannot show it.
            record = self.client.results.get(unquote(match.group(1)), read_output=False)
            if record is None:
                return _respond(start, 404, pages.message("not found", "no such job (or expired)"))
            return _respond(start, 200, pages.job(record))
        return _respond(start, 404, pages.message("not found", path))

    def health(self) -> dict[str, Any]:
        return check(self.client.redis, self.client.settings, Thresholds(min_workers=1))

    def charts(self, span: Span, configuration: str | None, health: dict[str, Any] | None) -> str:
        """The charts' container: every configuration's with the queue depth from
        ``health``, or one configuration's."""
        now = time.time()
        figures = read_figures(self.client.redis, self.client.keys, span, configuration, now)
        return charts_panel(figures, configuration=configuration, health=health, now_s=now)

    def failed_of(self, configuration: str) -> list[dict[str, Any]]:
        """A configuration's most recently failed jobs, newest first, without outputs."""
        failed: list[dict[str, Any]] = self.client.failed(FAILED_READ)
        return [r for r in failed if r.get("configuration") == configuration][:FAILED_SHOWN]

    def recent_jobs(self) -> list[dict[str, Any]]:
        """The most recently submitted jobs, newest first, without their outputs."""
        records: list[dict[str, Any]] = self.client.results.recent_jobs(SHOWN)
        return records

    def batch_groups(self) -> list[dict[str, Any]]:
        """The batch tier's newest groups: route, state, provider batch, request counts."""
        groups: list[dict[str, Any]] = self.client.batch_groups(SHOWN_GROUPS)
        return groups

    def authorized(self, environ: dict[str, Any]) -> bool:
        assert self.token is not None
        offered = bearer(environ) or cookie(environ, SESSION_COOKIE)
        return offered is not None and hmac.compare_digest(offered, self.token)

    def login(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        """A form asking for the token; a right one sets the cookie."""
        assert self.token is not None
        if environ["REQUEST_METHOD"] != "POST":
            return _respond(start, 200, pages.login())
        length = min(int(environ.get("CONTENT_LENGTH") or 0), _LOGIN_BODY_LIMIT)
        form = parse_qs(environ["wsgi.input"].read(length).decode("utf-8", "replace"))
        offered = (form.get("token") or [""])[0]
        if not same_origin(environ) or not hmac.compare_digest(offered, self.token):
            return _respond(start, 403, pages.login("That token is not the dashboard's."))
        cookie_value = f"{SESSION_COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
        headers = [("Location", "/"), ("Set-Cookie", cookie_value)]
        return _respond(start, 303, pages.message("signed in", ""), headers)

    def retry(self, environ: dict[str, Any], start: StartResponse, job_id: str) -> Iterable[bytes]:
        if not same_origin(environ):
            text = "cross-site request refused"
            return _respond(start, 403, pages.message("forbidden", text))
        try:
            self.client.retry(job_id)
        except ValidationError as exc:
            return _respond(start, 409, pages.message("cannot retry", exc.message))
        location = f"/jobs/{job_id}"
        return _respond(start, 303, pages.message("retried", job_id), [("Location", location)])


def bearer(environ: dict[str, Any]) -> str | None:
    scheme, _, value = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def cookie(environ: dict[str, Any], name: str) -> str | None:
    for part in str(environ.get("HTTP_COOKIE", "")).split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def same_origin(environ: dict[str, Any]) -> bool:
    """True when the browser says the request comes from this very host and port."""
    if environ.get("HTTP_SEC_FETCH_SITE", "same-origin") != "same-origin":
        return False
    source = environ.get("HTTP_ORIGIN") or environ.get("HTTP_REFERER")
    host = environ.get("HTTP_HOST")
    if not source or not host or source == "null":
        return False
    return bool(urlsplit(source).netloc == host)


def wsgi_text(value: str) -> str:
    """A path's text as sent: WSGI servers hand it over percent-decoded, its bytes as
    Latin-1 characters (PEP 3333), so a UTF-8 name comes back whole."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _respond(
    start: StartResponse,
    code: int,
    content: str | bytes,
    headers: list[tuple[str, str]] | None = None,
    content_type: str = HTML,
) -> list[bytes]:
    body = content.encode("utf-8") if isinstance(content, str) else content
    reasons = {
        200: "OK",
        303: "See Other",
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        409: "Conflict",
    }
    start(
        f"{code} {reasons[code]}",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            (
                "Content-Security-Policy",
                CONTENT_SECURITY_POLICY,
            ),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"),
            *(headers or []),
        ],
    )
    return [body]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def serve(
    client: Any,
    host: str,
    port: int,
    *,
    allowed_hosts: Iterable[str] = (),
    token: str | None = None,
) -> Any:
    """A server for the dashboard (``serve_forever()`` it); port 0 picks a free one.

    ``allowed_hosts`` adds to the bind address and ``localhost``. A dashboard bound
    beyond loopback needs a ``token``.
    """
    if not token and not is_loopback(host):
        raise ValueError(
            f"the dashboard binds {host}, beyond this machine: set "
            "OPENAI_WORKER_DASHBOARD_TOKEN so only people with the token can read it"
        )
    names = {host_name(host), "localhost", *allowed_hosts}
    app = Dashboard(client, names, token)
    return make_server(host, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
