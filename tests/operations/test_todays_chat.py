"""Today's chat dialect over real HTTP: reasoning options, structured outputs, the
developer role, and the answer budget's name for each kind of configuration."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import CITY_FORMAT, Reply, chat_completion, make_configuration


def ask(**options: Any) -> dict[str, Any]:
    return {"configuration": "test", "model": "gpt-5-mini", "user_prompt": "Hi", **options}


@pytest.mark.parametrize(
    ("variant", "budget_field"),
    [
        ("openai", "max_completion_tokens"),
        ("azure_api_key", "max_completion_tokens"),  # 2024-10-21 has it
        ("azure@2024-09-01-preview", "max_completion_tokens"),
        ("azure@2024-06-01", "max_tokens"),
        ("azure_v1", "max_completion_tokens"),
        ("openai_compatible", "max_tokens"),
    ],
)
def test_the_answer_budget_goes_out_under_the_name_the_api_takes(
    run_job: Any, wire_server: Any, variant: str, budget_field: str
) -> None:
    harness = run_job(make_configuration(variant, wire_server.url))

    record = harness.run("chat_completions_without_history", ask(max_tokens=64))

    assert record["status"] == "succeeded"
    body = wire_server.last.json
    assert body[budget_field] == 64
    assert ({"max_tokens", "max_completion_tokens"} - {budget_field}).isdisjoint(body)


def test_reasoning_options_are_sent_and_sampling_only_when_given(
    run_job: Any, wire_server: Any
) -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 300,
        "total_tokens": 310,
        "completion_tokens_details": {"reasoning_tokens": 256},
    }
    wire_server.script(Reply(json=chat_completion("Hi.", usage=usage)))
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "chat_completions_without_history", ask(reasoning_effort="low", verbosity="low")
    )

    body = wire_server.last.json
    assert (body["reasoning_effort"], body["verbosity"]) == ("low", "low")
    # reasoning models refuse sampling options: none is sent unless the payload gives it
    assert not {"temperature", "top_p", "max_tokens", "max_completion_tokens"} & set(body)
    assert record["usage"]["completion_tokens_details"] == {"reasoning_tokens": 256}


def test_top_p_is_sent_when_given(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    harness.run("chat_completions_without_history", ask(top_p=0.25))

    assert wire_server.last.json["top_p"] == 0.25


@pytest.mark.parametrize(
    ("variant", "role"),
    [
        ("openai", "developer"),
        ("azure_v1", "developer"),
        ("azure@2024-12-01-preview", "developer"),
        ("azure_api_key", "system"),  # 2024-10-21 does not know the role
        ("openai_compatible", "system"),
    ],
)
def test_a_developer_message_is_sent_as_the_api_understands_it(
    run_job: Any, wire_server: Any, variant: str, role: str
) -> None:
    harness = run_job(make_configuration(variant, wire_server.url))

    record = harness.run(
        "chat_completions_with_history",
        {
            "configuration": "test",
            "model": "gpt-5-mini",
            "messages": [
                {"role": "developer", "content": "Answer in French."},
                {"role": "user", "content": "Hello"},
            ],
        },
    )

    assert record["status"] == "succeeded"
    assert wire_server.last.json["messages"][0] == {"role": role, "content": "Answer in French."}


@pytest.mark.parametrize(
    "operation_payload",
    [
        ("chat_completions_without_history", ask()),
        (
            "chat_completions_with_history",
            {
                "configuration": "test",
                "model": "gpt-5-mini",
                "messages": [{"role": "user", "content": "Paris?"}],
            },
        ),
        ("summarize_text", {"configuration": "test", "model": "gpt-5-mini", "text": "Paris."}),
    ],
)
def test_structured_output_is_parsed_next_to_the_text(
    run_job: Any, wire_server: Any, operation_payload: tuple[str, dict[str, Any]]
) -> None:
    answer = '{"name": "Paris", "population": 2102650}'
    wire_server.script(Reply(json=chat_completion(answer)))
    harness = run_job(make_configuration("openai", wire_server.url))
    operation, payload = operation_payload

    record = harness.run(operation, {**payload, "response_format": CITY_FORMAT})

    assert record["status"] == "succeeded"
    assert wire_server.last.json["response_format"] == CITY_FORMAT
    assert record["output"]["assistant_response_json"] == {"name": "Paris", "population": 2102650}
    text_field = "summary" if operation == "summarize_text" else "assistant_response_text"
    assert record["output"][text_field] == answer


def test_each_prompt_of_a_multiple_job_gets_its_parsed_object(
    run_job: Any, wire_server: Any
) -> None:
    wire_server.script(
        Reply(json=chat_completion('{"name": "Paris", "population": 1}')),
        Reply(json=chat_completion('{"name": "Rome", "population": 2}')),
    )
    harness = run_job(make_configuration("azure_v1", wire_server.url))

    record = harness.run(
        "chat_completions_multiple",
        {"configuration": "test", "prompts": ["France?", "Italy?"], "response_format": CITY_FORMAT},
    )

    parsed = [entry["assistant_response_json"] for entry in record["output"]["responses"]]
    assert sorted(p["name"] for p in parsed) == ["Paris", "Rome"]


def test_a_refusal_succeeds_with_the_refusal_and_no_object(run_job: Any, wire_server: Any) -> None:
    refused = chat_completion(None)
    refused["choices"][0]["message"]["refusal"] = "I can't help with that."
    wire_server.script(Reply(json=refused))
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run("chat_completions_without_history", ask(response_format=CITY_FORMAT))

    assert record["status"] == "succeeded"
    assert record["output"] == {
        "assistant_response_text": None,
        "finish_reason": "stop",
        "refusal": "I can't help with that.",
        "assistant_response_json": None,
    }


def test_json_cut_off_by_the_budget_fails_once_as_provider_keeping_the_text(
    run_job: Any, wire_server: Any
) -> None:
    wire_server.script(
        Reply(json=chat_completion('{"name": "Par', finish_reason="length")),
        Reply(json=chat_completion('{"name": "Paris", "population": 1}')),
    )
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=2)

    record = harness.run("chat_completions_without_history", ask(response_format=CITY_FORMAT))

    assert record["status"] == "failed"
    assert record["error"]["type"] == "provider"
    assert "cut off by the token budget" in record["error"]["message"]
    assert record["error"]["details"]["assistant_response_text"] == '{"name": "Par'
    assert len(wire_server.requests) == 1  # a retry would pay for the answer again


def test_a_schema_that_is_not_json_schema_is_refused_before_any_call(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    broken = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 12}}}

    record = harness.run("chat_completions_without_history", ask(response_format=broken))

    assert record["error"]["type"] == "validation"
    assert "not a valid JSON Schema" in record["error"]["message"]
    assert wire_server.requests == []


def test_a_strict_function_is_offered_strict(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    harness.functions.register(
        lambda city: json.dumps({"city": city}),
        name="lookup",
        parameters={
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    )

    harness.run(
        "chat_completions_without_history", ask(functions=[{"name": "lookup", "strict": True}])
    )
    harness.run("chat_completions_without_history", ask(functions=[{"name": "lookup"}]))

    strict, loose = (request.json["tools"][0]["function"] for request in wire_server.requests)
    assert strict["strict"] is True
    assert "strict" not in loose
