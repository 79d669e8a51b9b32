"""raw_request over real HTTP: paths, headers, bodies, response types and retries."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from support import AZURE_KEY, OPENAI_KEY, Reply, make_configuration, provider_error

from worker.operations.raw import retry_policy
from worker.retries import ConnectorRetryPolicy, RetryPolicy


def test_a_get_goes_below_the_endpoint_with_the_worker_auth(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    wire_server.script(Reply(json={"object": "list", "data": []}, headers={"x-request-id": "r1"}))
    harness = run_job(provider_config)

    record = harness.run(
        "raw_request",
        {
            "configuration": "test",
            "method": "GET",
            "path": "/models",
            "query": {"limit": "5"},
            "headers": {"X-Trace": "t-1"},
        },
    )

    assert record["success"] is True, record["error"]
    assert record["output"]["status_code"] == 200
    assert record["output"]["body"] == {"object": "list", "data": []}
    assert record["output"]["headers"]["x-request-id"] == "r1"
    request = wire_server.last
    assert request.method == "GET"
    assert request.query["limit"] == "5"
    assert request.headers["x-trace"] == "t-1"
    if provider_config.api_type == "openai":
        assert request.path == "/v1/models"
        assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    else:
        assert request.path == "/openai/deployments/my-deployment/models"
        assert request.query["api-version"] == "2024-10-21"


def test_a_json_body_is_posted_as_given(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("azure_api_key", wire_server.url))

    harness.run(
        "raw_request",
        {"configuration": "test", "method": "POST", "path": "embeddings", "json": {"input": "x"}},
    )

    assert wire_server.last.json == {"input": "x"}
    assert wire_server.last.headers["api-key"] == AZURE_KEY


def test_a_multipart_form_carries_fields_and_files(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    content = b"\x00\x01 audio bytes"

    record = harness.run(
        "raw_request",
        {
            "configuration": "test",
            "method": "POST",
            "path": "audio/transcriptions",
            "form": {"model": "whisper-1"},
            "files": [
                {
                    "field": "file",
                    "filename": "a.wav",
                    "content_base64": base64.b64encode(content).decode(),
                    "content_type": "audio/wav",
                }
            ],
        },
    )

    assert record["success"] is True, record["error"]
    request = wire_server.last
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="model"\r\n\r\nwhisper-1' in request.body
    assert b'filename="a.wav"' in request.body
    assert content in request.body


def test_text_and_binary_answers_are_returned_as_text_and_base64(
    run_job: Any, wire_server: Any
) -> None:
    wire_server.script(
        Reply(body=b"plain words", headers={"Content-Type": "text/plain"}),
        Reply(body=b"\x89PNG\x00\xff", headers={"Content-Type": "image/png"}),
    )
    harness = run_job(make_configuration("openai", wire_server.url))
    base = {"configuration": "test", "path": "files/f1/content"}

    text = harness.run("raw_request", {**base, "response_type": "text"})
    binary = harness.run("raw_request", {**base, "response_type": "binary"})

    assert text["output"]["body"] == "plain words"
    assert base64.b64decode(binary["output"]["body"]) == b"\x89PNG\x00\xff"


@pytest.mark.parametrize(
    "path",
    [
        "https://evil.example/v1/models",
        "//evil.example/models",
        "../../secrets",
        "models/%2e%2e/%2e%2e/x",
        "user@evil.example/models",
        "models?limit=1",
        "models\\..\\x",
    ],
)
def test_paths_that_could_leave_the_endpoint_are_refused(
    run_job: Any, wire_server: Any, path: str
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run("raw_request", {"configuration": "test", "path": path})

    assert record["error"]["type"] == "validation"
    assert "path" in record["error"]["message"]
    assert wire_server.requests == []


@pytest.mark.parametrize(
    "header", ["Authorization", "api-key", "OpenAI-Organization", "Cookie", "Host"]
)
def test_the_callers_identity_headers_are_refused(
    run_job: Any, wire_server: Any, header: str
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "raw_request", {"configuration": "test", "path": "models", "headers": {header: "x"}}
    )

    assert record["error"]["type"] == "validation"
    assert f"{header} is set by the worker" in record["error"]["message"]
    assert wire_server.requests == []


def test_an_error_status_fails_the_job_with_the_providers_message(
    run_job: Any, wire_server: Any
) -> None:
    wire_server.script(provider_error(404, "The model 'nope' does not exist"))
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=3)

    record = harness.run("raw_request", {"configuration": "test", "path": "models/nope"})

    assert record["error"]["type"] == "provider"
    assert record["error"]["status_code"] == 404
    assert "does not exist" in record["error"]["message"]
    assert record["attempts"] == 1


def test_retry_on_all_errors_retries_a_client_error_within_the_payloads_budget(
    run_job: Any, wire_server: Any
) -> None:
    wire_server.script(provider_error(400, "bad"), provider_error(400, "bad"))
    wire_server.handler = lambda _: Reply(json={"ok": True})
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=0)

    record = harness.run(
        "raw_request",
        {
            "configuration": "test",
            "path": "things",
            "retry": {"max_retries": 2, "delay_ms": 250, "retry_on_all_errors": True},
        },
    )

    assert record["success"] is True
    assert record["attempts"] == 3
    assert harness.delays == [0.25, 0.25]


def test_without_retry_on_all_errors_a_client_error_is_final(
    run_job: Any, wire_server: Any
) -> None:
    wire_server.script(provider_error(400, "bad"))
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "raw_request", {"configuration": "test", "path": "things", "retry": {"max_retries": 2}}
    )

    assert record["attempts"] == 1
    assert record["error"]["status_code"] == 400


def test_exponential_backoff_doubles_the_delay() -> None:
    policy = retry_policy(
        {"retry": {"max_retries": 3, "delay_ms": 100, "exponential_backoff": True}},
        RetryPolicy(),
    )

    assert isinstance(policy, ConnectorRetryPolicy)
    assert [policy.delay_s(n, None) for n in range(3)] == [0.1, 0.2, 0.4]
    assert policy.allows_retry(2)
    assert not policy.allows_retry(3)


def test_without_retry_options_the_workers_policy_applies() -> None:
    default = RetryPolicy(max_retries=4)

    assert retry_policy({"path": "models"}, default) is default
