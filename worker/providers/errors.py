"""Turning an error answer of either provider into a ``ProviderError``.

Both speak ``{"error": {"message", "code", "type", ...}}``; Azure adds
``innererror``/``inner_error`` (content filter results). The provider's message and
status code are kept; the key, should a provider ever echo it, is redacted.
"""

from __future__ import annotations

from typing import Any

from worker.errors import ProviderError
from worker.retries import RetryPolicy
from worker.transport import HttpResponse


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced."""
    if secret and secret in text:
        return text.replace(secret, "[redacted]")
    return text


def error_from_response(response: HttpResponse, *, secret: str | None) -> ProviderError:
    """The ``ProviderError`` for a non-success answer, with retry advice."""
    status = response.status_code
    message, details = _message_and_details(response)
    code = details.get("code")
    retryable = RetryPolicy.is_retryable_answer(status, code)
    if 300 <= status < 400:
        message = f"unexpected redirect ({status}); check the configuration's endpoint"
    return ProviderError(
        redact(message, secret),
        status_code=status,
        retryable=retryable,
        retry_after_s=RetryPolicy.parse_retry_after(response.headers) if retryable else None,
        details={key: value for key, value in details.items() if value is not None} or None,
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
    snippet = " ".join(response.text.split())[:200]
    base = f"HTTP {response.status_code}"
    return (f"{base}: {snippet}" if snippet else base), {}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
