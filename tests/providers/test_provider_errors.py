"""Error answers become ProviderErrors that keep the provider's message and status."""

from __future__ import annotations

import json

import pytest
from requests.structures import CaseInsensitiveDict

from worker.providers.errors import error_from_response
from worker.redaction import register_secret
from worker.transport import HttpResponse


def response(status: int, body: object, **headers: str) -> HttpResponse:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status, CaseInsensitiveDict(headers), content)


def test_the_providers_message_code_and_status_are_kept() -> None:
    error = error_from_response(
        response(
            400,
            {
                "error": {
                    "message": "bad temperature",
                    "type": "invalid_request_error",
                    "param": "temperature",
                    "code": "invalid_value",
                }
            },
        ),
    )

    assert error.error_type == "provider"
    assert error.message == "bad temperature"
    assert error.status_code == 400
    assert error.retryable is False
    assert error.details == {
        "code": "invalid_value",
        "provider_type": "invalid_request_error",
        "param": "temperature",
    }


def test_a_429_is_retryable_after_the_time_it_asks_for() -> None:
    error = error_from_response(
        response(
            429,
            {"error": {"message": "slow down", "code": "rate_limit_exceeded"}},
            **{"retry-after-ms": "1200"},
        ),
    )

    assert error.retryable is True
    assert error.retry_after_s == 1.2


@pytest.mark.parametrize(
    ("status", "code"), [(429, "insufficient_quota"), (404, "DeploymentNotFound")]
)
def test_errors_that_waiting_cannot_fix_are_not_retried(status: int, code: str) -> None:
    error = error_from_response(
        response(status, {"error": {"message": "no", "code": code}}, Retry_After="1"),
    )

    assert error.retryable is False
    assert error.retry_after_s is None


def test_azures_content_filter_details_are_kept() -> None:
    inner = {
        "code": "ResponsibleAIPolicyViolation",
        "content_filter_result": {"hate": {"filtered": True, "severity": "high"}},
    }
    error = error_from_response(
        response(
            400, {"error": {"message": "filtered", "code": "content_filter", "innererror": inner}}
        ),
    )

    assert error.details is not None
    assert error.details["inner_error"] == inner


def test_an_html_error_page_is_summarised_and_retryable_when_5xx() -> None:
    error = error_from_response(
        response(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>")
    )

    assert error.retryable is True
    assert error.message.startswith("HTTP 502: ")
    assert "Bad Gateway" in error.message


def test_a_key_echoed_by_the_provider_is_redacted() -> None:
    register_secret("live-key-1234567890")  # as loading its configuration does
    message = "Incorrect API key provided: live-key-1234567890"

    error = error_from_response(response(401, {"error": {"message": message}}))

    assert "live-key-1234567890" not in error.message
    assert "[redacted]" in error.message
