"""chat_completions_with_history: a conversation in order, every role, images on user messages."""

from __future__ import annotations

from typing import Any

import pytest
from support import Reply, chat_completion, make_configuration

PNG = "data:image/png;base64,iVBORw0KGgo="


def conversation(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    payload = {"configuration": "test", "model": "gpt-4o-mini", "messages": list(messages)}
    payload.update(extra)
    return payload


def test_every_role_is_sent_in_order(run_job: Any, provider_config: Any, wire_server: Any) -> None:
    harness = run_job(provider_config)
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}

    record = harness.run(
        "chat_completions_with_history",
        conversation(
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is on this picture?", "images": [{"url": PNG}]},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
            {"role": "assistant", "content": "A cat."},
            {"role": "user", "content": "What colour?", "name": "alice"},
        ),
    )

    assert record["output"] == {
        "assistant_response_text": "Hello from the wire server.",
        "finish_reason": "stop",
    }
    assert wire_server.last.json["messages"] == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is on this picture?"},
                {"type": "image_url", "image_url": {"url": PNG, "detail": "auto"}},
            ],
        },
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "content": "a cat", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "A cat."},
        {"role": "user", "content": "What colour?", "name": "alice"},
    ]


def test_options_and_json_mode_are_sent(run_job: Any, wire_server: Any) -> None:
    wire_server.script(Reply(json=chat_completion("{}")))
    harness = run_job(make_configuration("openai", wire_server.url))

    harness.run(
        "chat_completions_with_history",
        conversation(
            {"role": "user", "content": "Reply in JSON."},
            response_format="json_object",
            temperature=0,
            max_tokens=5,
        ),
    )

    body = wire_server.last.json
    assert body["response_format"] == {"type": "json_object"}
    assert body["temperature"] == 0
    assert body["max_completion_tokens"] == 5
    assert body["model"] == "gpt-4o-mini"


def test_a_filtered_answer_shows_its_finish_reason(run_job: Any, wire_server: Any) -> None:
    wire_server.script(Reply(json=chat_completion(None, finish_reason="content_filter")))
    harness = run_job(make_configuration("azure_api_key", wire_server.url))

    record = harness.run(
        "chat_completions_with_history", conversation({"role": "user", "content": "x"})
    )

    assert record["output"] == {"assistant_response_text": None, "finish_reason": "content_filter"}


@pytest.mark.parametrize(
    ("messages", "complaint"),
    [
        ([], "messages"),
        ([{"role": "robot", "content": "hi"}], "role"),
        ([{"role": "assistant", "content": "hi", "images": [{"url": PNG}]}], "images"),
        ([{"role": "tool", "content": "result"}], "tool_call_id"),
        ([{"role": "user", "content": "hi", "tool_call_id": "x"}], "tool_call_id"),
        ([{"role": "user"}], "content"),
        ([{"role": "user", "content": "hi", "extra": 1}], "extra"),
        ([{"role": "user", "content": "hi", "images": [{"url": "http://x/a.png"}]}], "url"),
        (
            [
                {"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "c", "content": "r"},
            ],
            "tool_call_id does not match",
        ),
    ],
)
def test_a_malformed_conversation_is_refused_before_calling(
    run_job: Any, wire_server: Any, messages: list[Any], complaint: str
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run("chat_completions_with_history", conversation(*messages))

    assert record["error"]["type"] == "validation"
    assert complaint in record["error"]["message"]
    assert wire_server.requests == []


def test_json_mode_without_the_word_json_is_refused(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "chat_completions_with_history",
        conversation({"role": "user", "content": "hi"}, response_format="json_object"),
    )

    assert record["error"]["type"] == "validation"
    assert "JSON" in record["error"]["message"]
