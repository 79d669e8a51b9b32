"""The dashboard as a tiny WSGI app over a ``Client``; served by the standard library.

Reads what ``health`` reads plus recent job records. The only write is "retry a
failed job": POST only, and refused unless the browser says the request comes from
the dashboard's own origin (``Origin``, else ``Referer``; ``Sec-Fetch-Site`` when
sent), so another site cannot make a visitor's browser retry jobs. It binds
127.0.0.1 unless told otherwise. Records never hold API keys, so nothing shown can.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import unquote, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from worker.dashboard import pages
from worker.errors import ValidationError
from worker.monitoring.health import Thresholds, check

StartResponse = Callable[..., Any]
#: How many job records the overview reads (a scan of the namespace) and shows.
SCAN_LIMIT, SHOWN = 1000, 50
#: No scripts at all; forms may only post back here; no framing (clickjacking).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
)
_JOB = re.compile(r"^/jobs/([^/]+)$")
_RETRY = re.compile(r"^/jobs/([^/]+)/retry$")


class Dashboard:
    """``Dashboard(client)`` is a WSGI application."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO") or "/", environ["REQUEST_METHOD"]
        if (match := _RETRY.match(path)) is not None:
            if method != "POST":
                return _respond(start, 405, pages.message("retry", "use POST"), [("Allow", "POST")])
            return self.retry(environ, start, unquote(match.group(1)))
        if method not in ("GET", "HEAD"):
            return _respond(start, 405, pages.message("not allowed", method), [("Allow", "GET")])
        if path == "/":
            return _respond(start, 200, pages.overview(self.health(), self.recent_jobs()))
        if (match := _JOB.match(path)) is not None:
            # Never the output kept in parts (up to about a gigabyte): a page cannot show it.
            record = self.client.results.get(unquote(match.group(1)), read_output=False)
            if record is None:
                return _respond(start, 404, pages.message("not found", "no such job (or expired)"))
            return _respond(start, 200, pages.job(record))
        return _respond(start, 404, pages.message("not found", path))

    def health(self) -> dict[str, Any]:
        return check(self.client.redis, self.client.settings, Thresholds(min_workers=1))

    def recent_jobs(self) -> list[dict[str, Any]]:
        """The most recently enqueued records among the first ``SCAN_LIMIT`` found."""
        records: list[dict[str, Any]] = self.client.results.recent_jobs(
            SHOWN, scan_limit=SCAN_LIMIT
        )
        return records

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


def same_origin(environ: dict[str, Any]) -> bool:
    """True when the browser says the request comes from this very host and port."""
    if environ.get("HTTP_SEC_FETCH_SITE", "same-origin") != "same-origin":
        return False
    source = environ.get("HTTP_ORIGIN") or environ.get("HTTP_REFERER")
    host = environ.get("HTTP_HOST")
    if not source or not host or source == "null":
        return False
    return bool(urlsplit(source).netloc == host)


def _respond(
    start: StartResponse, code: int, html: str, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    body = html.encode("utf-8")
    reasons = {
        200: "OK",
        303: "See Other",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        409: "Conflict",
    }
    start(
        f"{code} {reasons[code]}",
        [
            ("Content-Type", "text/html; charset=utf-8"),
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


def serve(client: Any, host: str, port: int) -> Any:
    """A server for the dashboard (``serve_forever()`` it); port 0 picks a free one."""
    return make_server(
        host, port, Dashboard(client), server_class=_ThreadingServer, handler_class=_QuietHandler
    )
