"""End to end: a producing client, real Redis, a real Dramatiq worker process, and a
local server speaking the provider's wire format."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from support import (
    AZURE_KEY,
    ENTRA_TOKEN,
    OPENAI_KEY,
    Reply,
    chat_completion,
    dump_value,
    make_configuration,
)

pytestmark = pytest.mark.integration
WAIT_S = 30


def prompt(**extra: Any) -> dict[str, Any]:
    return {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "Say hi", **extra}


@pytest.mark.parametrize("variant", ["openai", "azure_api_key", "azure_bearer"])
def test_a_submitted_job_succeeds_through_a_real_worker(
    variant: str, client: Any, start_worker: Any, wire_server: Any
) -> None:
    client.configurations().save(make_configuration(variant, wire_server.url))
    start_worker()

    job_id = client.submit("chat_completions_without_history", prompt())
    record = client.wait(job_id, WAIT_S)

    assert record["status"] == "succeeded"
    assert record["success"] is True
    assert record["output"]["assistant_response_text"] == "Hello from the wire server."
    assert record["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    assert record["attempts"] == 1
    assert record["started_at"] is not None
    assert record["finished_at"] >= record["started_at"] >= record["enqueued_at"]
    request = wire_server.last
    if variant == "openai":
        assert request.path == "/v1/chat/completions"
        assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
        assert request.json["model"] == "gpt-4o-mini"
    else:
        assert request.path == "/openai/deployments/my-deployment/chat/completions"
        assert request.query == {"api-version": "2024-10-21"}
        assert "model" not in request.json
        if variant == "azure_bearer":
            assert request.headers["authorization"] == f"Bearer {ENTRA_TOKEN}"
            assert "api-key" not in request.headers
        else:
            assert request.headers["api-key"] == AZURE_KEY
            assert "authorization" not in request.headers


def test_json_mode_through_a_real_worker(client: Any, start_worker: Any, wire_server: Any) -> None:
    wire_server.handler = lambda _: Reply(json=chat_completion('{"greeting": "hi"}'))
    client.configurations().save(make_configuration("azure_api_key", wire_server.url))
    start_worker()

    job_id = client.submit(
        "chat_completions_without_history",
        prompt(response_format="json_object", system_prompt="Answer in JSON."),
    )
    record = client.wait(job_id, WAIT_S)

    assert record["output"]["assistant_response_text"] == '{"greeting": "hi"}'
    assert wire_server.last.json["response_format"] == {"type": "json_object"}


def test_a_job_waits_queued_until_a_worker_comes(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    client.configurations().save(make_configuration("openai", wire_server.url))

    job_id = client.submit("configuration_test", {"configuration": "test", "model": "m"})

    assert client.result(job_id)["status"] == "queued"
    start_worker()
    assert client.wait(job_id, WAIT_S)["status"] == "succeeded"


def test_a_provider_error_fails_at_once_with_the_providers_message(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    wire_server.handler = lambda _: Reply(
        401, {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}}
    )
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker(OPENAI_WORKER_MAX_RETRIES="3")

    record = client.wait(client.submit("chat_completions_without_history", prompt()), WAIT_S)

    assert record["status"] == "failed"
    assert record["success"] is False
    assert record["error"]["type"] == "provider"
    assert record["error"]["status_code"] == 401
    assert record["error"]["message"] == "Incorrect API key provided."
    assert record["attempts"] == 1
    assert len(wire_server.requests) == 1


def test_a_429_is_retried_by_a_delayed_re_enqueue_and_then_succeeds(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    wire_server.script(
        Reply(
            429,
            {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}},
            headers={"retry-after-ms": "300"},
        ),
    )
    client.configurations().save(make_configuration("azure_api_key", wire_server.url))
    start_worker(OPENAI_WORKER_MAX_RETRIES="3")

    record = client.wait(client.submit("configuration_test", {"configuration": "test"}), WAIT_S)

    assert record["status"] == "succeeded"
    assert record["attempts"] == 2
    assert len(wire_server.requests) == 2


def test_retries_run_out_into_a_failed_result(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    wire_server.handler = lambda _: Reply(
        500, {"error": {"message": "The server had an error"}}, headers={"retry-after-ms": "50"}
    )
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker(OPENAI_WORKER_MAX_RETRIES="2")

    record = client.wait(client.submit("chat_completions_without_history", prompt()), WAIT_S)

    assert record["status"] == "failed"
    assert record["error"]["type"] == "provider"
    assert record["error"]["status_code"] == 500
    assert record["attempts"] == 3
    assert len(wire_server.requests) == 3


def test_bad_jobs_fail_as_validation_and_the_worker_goes_on(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    client.configurations().save(make_configuration("openai", wire_server.url))
    worker = start_worker()

    bad = client.submit(
        "chat_completions_without_history", prompt(temperature="hot"), validate=False
    )
    no_model = client.submit("configuration_test", {"configuration": "test"})
    good = client.submit("chat_completions_without_history", prompt())

    assert client.wait(bad, WAIT_S)["error"]["type"] == "validation"
    assert client.wait(no_model, WAIT_S)["error"]["message"] == (
        "model is required for OpenAI configurations"
    )
    assert client.wait(good, WAIT_S)["status"] == "succeeded"
    assert len(wire_server.requests) == 1
    assert worker.process.poll() is None


def test_an_idempotency_key_runs_a_job_once(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker()

    first = client.submit("chat_completions_without_history", prompt(idempotency_key="order-1"))
    second = client.submit("chat_completions_without_history", prompt(idempotency_key="order-1"))

    assert second == first
    assert client.wait(first, WAIT_S)["status"] == "succeeded"
    assert len(wire_server.requests) == 1


def test_the_plaintext_key_appears_nowhere_in_redis_or_the_logs(
    client: Any, start_worker: Any, wire_server: Any, redis_url: str, namespace: str
) -> None:
    # Given a provider that echoes the key back in its error message
    wire_server.script(Reply(400, {"error": {"message": f"Key {AZURE_KEY} is not allowed"}}))
    client.configurations().save(make_configuration("azure_api_key", wire_server.url))
    worker = start_worker(OPENAI_WORKER_LOG_LEVEL="DEBUG")

    # When jobs fail and succeed
    failed = client.wait(client.submit("configuration_test", {"configuration": "test"}), WAIT_S)
    ok = client.wait(client.submit("configuration_test", {"configuration": "test"}), WAIT_S)

    # Then neither Redis nor the worker's log holds the key
    assert failed["error"]["message"] == "Key [redacted] is not allowed"
    assert ok["status"] == "succeeded"
    raw = redis.Redis.from_url(redis_url)
    keys = list(raw.scan_iter(match=f"{namespace}:*", count=1000))
    assert any(b":job:" in k for k in keys)
    assert any(b":configurations" in k for k in keys)
    for key in keys:
        assert AZURE_KEY.encode() not in dump_value(raw, key), key
    log = worker.log()
    assert "job.failed" in log
    assert AZURE_KEY not in log
