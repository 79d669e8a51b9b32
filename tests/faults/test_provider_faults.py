"""Provider faults against a real worker process: each ends clearly, after the right retries."""

from __future__ import annotations

from typing import Any

import pytest
from support import Reply, chat_completion, make_configuration

pytestmark = pytest.mark.integration
WAIT_S = 40
FAST_RETRIES = {
    "OPENAI_WORKER_MAX_RETRIES": "2",
    "OPENAI_WORKER_BACKOFF_BASE_S": "0.05",
    "OPENAI_WORKER_BACKOFF_MAX_S": "0.2",
    "OPENAI_WORKER_TIMEOUT_S": "0.5",
}
PROMPT = {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "hi"}


@pytest.mark.parametrize(
    ("reply", "error_type", "status_code", "message_part"),
    [
        (
            Reply(
                502,
                body=b"<html><h1>502 Bad Gateway</h1></html>",
                headers={"Content-Type": "text/html"},
            ),
            "provider",
            502,
            "Bad Gateway",
        ),
        (Reply(drop=True), "transport", None, "connection"),
        (Reply(200, body=b'{"choices": [tru'), "provider", 200, "not JSON"),
        (Reply(json=chat_completion(), delay_s=1.5), "transport", None, "within 0.5 s"),
        (
            Reply(500, {"error": {"message": "The server had an error"}}),
            "provider",
            500,
            "The server had an error",
        ),
    ],
    ids=["html-error-page", "dropped-connection", "malformed-json", "too-slow", "500"],
)
def test_transient_faults_are_retried_then_fail_clearly(
    reply: Reply,
    error_type: str,
    status_code: int | None,
    message_part: str,
    client: Any,
    start_worker: Any,
    wire_server: Any,
) -> None:
    wire_server.handler = lambda _: reply
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker(**FAST_RETRIES)

    record = client.wait(client.submit("chat_completions_without_history", PROMPT), WAIT_S)

    assert record["status"] == "failed"
    assert record["error"]["type"] == error_type
    assert record["error"]["status_code"] == status_code
    assert message_part in record["error"]["message"]
    assert record["attempts"] == 3
    assert len(wire_server.requests) == 3


@pytest.mark.parametrize(
    ("variant", "reply"),
    [
        (
            "openai",
            Reply(
                429,
                {
                    "error": {
                        "message": "You exceeded your current quota",
                        "type": "insufficient_quota",
                        "code": "insufficient_quota",
                    }
                },
                headers={"Retry-After": "1"},
            ),
        ),
        (
            "azure_api_key",
            Reply(
                404,
                {
                    "error": {
                        "code": "DeploymentNotFound",
                        "message": "The API deployment for this resource does not exist.",
                    }
                },
            ),
        ),
    ],
    ids=["insufficient-quota", "deployment-not-found"],
)
def test_permanent_errors_are_not_retried(
    variant: str, reply: Reply, client: Any, start_worker: Any, wire_server: Any
) -> None:
    wire_server.handler = lambda _: reply
    client.configurations().save(make_configuration(variant, wire_server.url))
    start_worker(**FAST_RETRIES)

    record = client.wait(client.submit("chat_completions_without_history", PROMPT), WAIT_S)

    assert record["status"] == "failed"
    assert record["error"]["type"] == "provider"
    assert record["error"]["details"]["code"] in {"insufficient_quota", "DeploymentNotFound"}
    assert record["attempts"] == 1
    assert len(wire_server.requests) == 1


def test_retry_after_in_seconds_is_honoured(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    wire_server.script(
        Reply(429, {"error": {"message": "Rate limit"}}, headers={"Retry-After": "1"})
    )
    client.configurations().save(make_configuration("azure_bearer", wire_server.url))
    start_worker(**FAST_RETRIES)

    record = client.wait(client.submit("configuration_test", {"configuration": "test"}), WAIT_S)

    assert record["status"] == "succeeded"
    assert record["attempts"] == 2
    first, second = wire_server.requests
    assert second.received_at - first.received_at >= 1.0
