"""Every error the API answers is a problem document (RFC 9457, ``application/problem+json``).

``type`` names the kind of problem (a URN of this project; ``about:blank`` where the
HTTP status says it all), ``title`` is the same for every problem of a type, ``detail``
says what went wrong with this request, and a 422 adds ``errors``: one entry per refused
field, with a JSON Pointer into the request body (``/payload/messages/0/role``) or the
query parameter it concerns, as RFC 9457's own example does.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

MEDIA_TYPE = "application/problem+json"
_URN = "urn:openai-worker:problem:"

#: Problem types: name → (status, title).
TYPES: dict[str, tuple[int, str]] = {
    "malformed-request": (400, "The request body is not a JSON object"),
    "unknown-host": (400, "This API does not answer to that host name"),
    "unauthorized": (401, "A valid API token is required"),
    "cross-site": (403, "Cross-site requests are refused"),
    "job-not-found": (404, "No such job (unknown, or expired)"),
    "not-retryable": (409, "Only failed jobs can be retried"),
    "too-large": (413, "The request body is too large"),
    "unsupported-media-type": (415, "The request body must be application/json"),
    "validation": (422, "The request was refused"),
    "unavailable": (503, "Redis is not reachable"),
    "internal": (500, "Internal error"),
}


class Problem(Exception):
    """An error answered as a problem document; raise it anywhere in a request."""

    def __init__(
        self,
        kind: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.title = TYPES[kind]
        self.type = _URN + kind
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})

    def document(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def response(self, instance: str | None = None) -> JSONResponse:
        return problem_response(self.document(instance), self.status, self.headers)


def http_problem(status: int, detail: str | None = None) -> dict[str, Any]:
    """The document of a plain HTTP error (unknown route, wrong method): ``about:blank``."""
    title = HTTPStatus(status).phrase
    return {"type": "about:blank", "title": title, "status": status, "detail": detail or title}


def problem_response(
    document: dict[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(document, status, headers=dict(headers or {}), media_type=MEDIA_TYPE)


def field_errors(messages: Any, pointer: str) -> list[dict[str, str]]:
    """marshmallow's messages (field → messages, nested by field or list index) as
    ``{"pointer", "detail"}`` entries; ``_schema`` messages point at the object itself."""
    if isinstance(messages, dict):
        found: list[dict[str, str]] = []
        for name, inner in messages.items():
            below = pointer if name == "_schema" else f"{pointer}/{_escape(str(name))}"
            found.extend(field_errors(inner, below))
        return found
    if isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            return [{"pointer": pointer, "detail": " ".join(messages)}]
        return [entry for m in messages for entry in field_errors(m, pointer)]
    return [{"pointer": pointer, "detail": str(messages)}]


def _escape(token: str) -> str:
    """A JSON Pointer reference token (RFC 6901): ``~`` and ``/`` escaped."""
    return token.replace("~", "~0").replace("/", "~1")
