"""Turning an error answer of either provider into a ``ProviderError``.

Both speak ``{"error": {"message", "code", "type", ...}}``; Azure adds
``innererror``/``inner_error`` (content filter results). The provider's message and
status code are kept; the key, should a provider ever echo it, is redacted (before
anything is cut, so no part of it survives a cut).
"""

from __future__ import annotations

from typing import Any

from worker.errors import ProviderError
from worker.redaction import redact, redact_text
from worker.retries import RetryPolicy
from worker.transport import HttpResponse

#: How much of an error body is read for its message (error bodies are short).
MAX_ERROR_BODY_CHARS = 65_536


def body_snippet(response: HttpResponse, limit: int = 200) -> str:
    """The start of a body for a message: redacted first, then cut."""
    return " ".join(redact_text(response.text[:MAX_ERROR_BODY_CHARS]).split())[:limit]


def error_from_response(response: HttpResponse) -> ProviderError:
    """The ``ProviderError`` for a non-success answer, with retry advice."""
    status = response.status_code
    message, details = _message_and_details(response)
    code = details.get("code")
    retryable = RetryPolicy.is_retryable_answer(status, code)
    if 300 <= status < 400:
        message = f"unexpected redirect ({status}); check the configuration's endpoint"
    return ProviderError(
        redact_text(message),
        status_code=status,
        retryable=retryable,
        retry_after_s=RetryPolicy.parse_retry_after(response.headers) if retryable else None,
        details=redact({key: value for key, value in details.items() if value is not None}) or None,
    )


def _message_and_details(response: HttpResponse) -> tuple[str, dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        message = str(error.get("message") or error.get("code") or "").strip()
        details: dict[str, Any] = {
            "code": _text(error.get("code")),
            "provider_type": _text(error.get("type")),
            "param": _text(error.get("param")),
        }
        inner = error.get("innererror") or error.get("inner_error")
        if isinstance(inner, dict):
            details["inner_error"] = inner
        return message or f"HTTP {response.status_code}", details
    snippet = body_snippet(response)
    base = f"HTTP {response.status_code}"
    return (f"{base}: {snippet}" if snippet else base), {}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
