"""Azure OpenAI's v1 API over real HTTP: one path for every deployment, named as the body's
``model``, no ``api-version`` (``preview`` asks for one), api-key or Entra auth."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from support import AZURE_KEY, ENTRA_TOKEN, Reply, make_configuration

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EMBEDDING = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]}],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 1, "total_tokens": 1},
}


@pytest.mark.parametrize(
    ("operation", "payload", "reply", "path"),
    [
        (
            "chat_completions_without_history",
            {"configuration": "test", "user_prompt": "hi", "model": "ignored"},
            None,
            "/openai/v1/chat/completions",
        ),
        (
            "embeddings_single_input",
            {"configuration": "test", "input": "hi"},
            Reply(json=EMBEDDING),
            "/openai/v1/embeddings",
        ),
        (
            "image_generations_single",
            {"configuration": "test", "prompt": "otter", "response_format": "b64_json"},
            Reply(json={"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()}]}),
            "/openai/v1/images/generations",
        ),
    ],
)
@pytest.mark.parametrize("variant", ["azure_v1", "azure_v1_bearer"])
def test_every_operation_goes_to_the_v1_path_with_the_deployment_as_model(
    run_job: Any,
    wire_server: Any,
    variant: str,
    operation: str,
    payload: dict[str, Any],
    reply: Reply | None,
    path: str,
) -> None:
    if reply is not None:
        wire_server.script(reply)
    harness = run_job(make_configuration(variant, wire_server.url))

    record = harness.run(operation, payload)

    assert record["status"] == "succeeded", record["error"]
    request = wire_server.last
    assert request.path == path
    # images are a preview on v1 (Microsoft's how-to asks for api-version=preview)
    assert request.query == ({"api-version": "preview"} if "images" in path else {})
    assert request.json["model"] == "my-deployment"
    if variant == "azure_v1":
        assert request.headers["api-key"] == AZURE_KEY
        assert "authorization" not in request.headers
    else:
        assert request.headers["authorization"] == f"Bearer {ENTRA_TOKEN}"
        assert "api-key" not in request.headers


def test_preview_sends_api_version_preview(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("azure@preview", wire_server.url))

    harness.run("chat_completions_without_history", {"configuration": "test", "user_prompt": "hi"})

    assert wire_server.last.path == "/openai/v1/chat/completions"
    assert wire_server.last.query == {"api-version": "preview"}


def test_a_raw_request_is_relative_to_the_v1_root(run_job: Any, wire_server: Any) -> None:
    wire_server.script(Reply(json={"object": "list", "data": []}))
    harness = run_job(make_configuration("azure_v1", wire_server.url))

    record = harness.run(
        "raw_request", {"configuration": "test", "method": "GET", "path": "models"}
    )

    assert record["status"] == "succeeded", record["error"]
    assert (wire_server.last.path, wire_server.last.query) == ("/openai/v1/models", {})


def test_a_dated_azure_configuration_refuses_v1_only_paths_without_sending(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("azure_api_key", wire_server.url))

    record = harness.run(
        "raw_request",
        {"configuration": "test", "method": "POST", "path": "responses", "json": {"input": "hi"}},
    )

    assert record["error"]["type"] == "configuration"
    assert "--api-version v1" in record["error"]["message"]
    assert wire_server.requests == []


def test_an_openai_compatible_server_gets_no_organization_and_the_model_only_when_given(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("openai_compatible", wire_server.url))

    without = harness.run(
        "chat_completions_without_history", {"configuration": "test", "user_prompt": "hi"}
    )
    with_model = harness.run(
        "chat_completions_without_history",
        {"configuration": "test", "user_prompt": "hi", "model": "qwen2.5-0.5b"},
    )

    assert without["status"] == with_model["status"] == "succeeded"
    first, second = wire_server.requests
    assert "model" not in first.json
    assert second.json["model"] == "qwen2.5-0.5b"
    assert first.path == "/v1/chat/completions"
    assert "openai-organization" not in first.headers
    assert first.headers["authorization"].startswith("Bearer ")


def test_an_answer_missing_optional_fields_still_succeeds(run_job: Any, wire_server: Any) -> None:
    # what small servers send: no id, usage, finish_reason or refusal
    wire_server.script(
        Reply(json={"choices": [{"message": {"role": "assistant", "content": "ok"}}]})
    )
    harness = run_job(make_configuration("openai_compatible", wire_server.url))

    record = harness.run(
        "chat_completions_without_history", {"configuration": "test", "user_prompt": "hi"}
    )

    assert record["status"] == "succeeded"
    assert record["output"] == {"assistant_response_text": "ok", "finish_reason": None}
    assert record["usage"] is None


def test_the_responses_operation_goes_to_the_v1_responses_path(
    run_job: Any, wire_server: Any
) -> None:
    wire_server.script(
        Reply(
            json={
                "id": "resp_1",
                "object": "response",
                "status": "completed",
                "output": [
                    {
                        "type": "message",
                        "id": "msg_1",
                        "role": "assistant",
                        "status": "completed",
                        "content": [{"type": "output_text", "text": "Hi!", "annotations": []}],
                    }
                ],
                "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
            }
        )
    )
    harness = run_job(make_configuration("azure_v1", wire_server.url))

    record = harness.run("responses", {"configuration": "test", "request": {"input": "hi"}})

    assert record["status"] == "succeeded", record["error"]
    assert record["output"]["output_text"] == "Hi!"
    request = wire_server.last
    assert (request.path, request.query) == ("/openai/v1/responses", {})
    assert request.json == {"input": "hi", "store": False, "model": "my-deployment"}


def test_a_dated_azure_configuration_refuses_the_responses_operation_without_sending(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("azure_api_key", wire_server.url))

    record = harness.run("responses", {"configuration": "test", "request": {"input": "hi"}})

    assert record["error"]["type"] == "configuration"
    assert "--api-version v1" in record["error"]["message"]
    assert wire_server.requests == []
