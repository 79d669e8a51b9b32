"""chat_completions_without_history and configuration_test over real HTTP, every wire variant."""

from __future__ import annotations

from typing import Any

from support import OPENAI_KEY, Reply, chat_completion, make_configuration


def test_a_prompt_is_answered_with_the_assistant_text(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    harness = run_job(provider_config)

    record = harness.run(
        "chat_completions_without_history",
        {
            "configuration": "test",
            "model": "gpt-4o-mini",
            "system_prompt": "Be brief.",
            "user_prompt": "Say hello",
            "temperature": 0.5,
            "max_tokens": 50,
        },
    )

    assert record["status"] == "succeeded"
    assert record["success"] is True
    assert record["output"] == {
        "assistant_response_text": "Hello from the wire server.",
        "finish_reason": "stop",
    }
    assert record["usage"]["total_tokens"] == 18
    body = wire_server.last.json
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"},
    ]
    assert body["temperature"] == 0.5
    # OpenAI and Azure 2024-10-21 take the answer's budget as max_completion_tokens
    assert body["max_completion_tokens"] == 50
    assert "max_tokens" not in body


def test_openai_requests_carry_the_model_and_a_bearer_key(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    harness.run(
        "chat_completions_without_history",
        {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "hi"},
    )

    request = wire_server.last
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert request.headers["openai-organization"] == "org-test"
    assert "api-key" not in request.headers
    assert request.json["model"] == "gpt-4o-mini"
    assert request.query == {}


def test_azure_requests_name_the_deployment_and_api_version_and_leave_out_the_model(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("azure_api_key", wire_server.url))

    harness.run(
        "chat_completions_without_history",
        {"configuration": "test", "model": "ignored-by-azure", "user_prompt": "hi"},
    )

    request = wire_server.last
    assert request.path == "/openai/deployments/my-deployment/chat/completions"
    assert request.query == {"api-version": "2024-10-21"}
    assert "model" not in request.json
    assert "authorization" not in request.headers


def test_json_mode_asks_for_a_json_object(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    wire_server.script(Reply(json=chat_completion('{"answer": 42}')))
    harness = run_job(provider_config)

    record = harness.run(
        "chat_completions_without_history",
        {
            "configuration": "test",
            "model": "gpt-4o-mini",
            "response_format": "json_object",
            "user_prompt": "Answer in JSON: what is six times seven?",
        },
    )

    assert wire_server.last.json["response_format"] == {"type": "json_object"}
    assert record["output"]["assistant_response_text"] == '{"answer": 42}'
    assert record["output"]["assistant_response_json"] == {"answer": 42}


def test_a_cut_off_answer_shows_its_finish_reason(run_job: Any, wire_server: Any) -> None:
    wire_server.script(Reply(json=chat_completion("Once upon a", finish_reason="length")))
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "chat_completions_without_history",
        {"configuration": "test", "model": "m", "user_prompt": "story"},
    )

    assert record["output"]["finish_reason"] == "length"


def test_configuration_test_sends_a_short_greeting(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    harness = run_job(provider_config)

    record = harness.run("configuration_test", {"configuration": "test", "model": "gpt-4o-mini"})

    assert record["success"] is True
    assert record["output"]["assistant_response_text"] == "Hello from the wire server."
    assert wire_server.last.json["messages"][0]["role"] == "user"
    assert wire_server.last.json["messages"][0]["content"]
