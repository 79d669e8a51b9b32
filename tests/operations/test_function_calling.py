"""Function calling: the worker runs the model's tool calls until it answers, every wire variant."""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

import pytest
from structlog.testing import capture_logs
from support import Reply, chat_completion, make_configuration

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


def tool_call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    """One tool call as the model sends it; ``arguments`` is encoded unless a string."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


def calls_reply(*calls: dict[str, Any]) -> Reply:
    return Reply(json=chat_completion(None, finish_reason="tool_calls", tool_calls=list(calls)))


def ask(**extra: Any) -> dict[str, Any]:
    payload = {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "Weather?"}
    payload.update(extra)
    return payload


def tool_messages(request: Any) -> list[dict[str, Any]]:
    return [m for m in request.json["messages"] if m["role"] == "tool"]


def with_rounds(harness: Any, rounds: int) -> None:
    harness.runner.settings = dataclasses.replace(harness.runner.settings, max_tool_rounds=rounds)


def test_a_registered_function_is_offered_called_and_its_result_fed_back(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    # Given a registered function and a model that calls it once, then answers
    harness = run_job(provider_config)
    seen: list[str] = []

    def get_weather(city: str) -> dict[str, Any]:
        seen.append(city)
        return {"city": city, "temp_c": 21}

    harness.functions.register(
        get_weather, description="Current weather", parameters=WEATHER_PARAMETERS
    )
    wire_server.script(
        calls_reply(tool_call("call_1", "get_weather", {"city": "Paris"})),
        Reply(json=chat_completion("It is 21 °C in Paris.")),
    )

    # When the job names the function
    record = harness.run(
        "chat_completions_without_history", ask(functions=[{"name": "get_weather"}])
    )

    # Then the function ran with the model's arguments and the answer is the final text
    assert record["status"] == "succeeded"
    assert record["output"] == {
        "assistant_response_text": "It is 21 °C in Paris.",
        "finish_reason": "stop",
    }
    assert seen == ["Paris"]
    first, second = wire_server.requests
    assert first.json["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather",
                "parameters": WEATHER_PARAMETERS,
            },
        }
    ]
    assert second.json["messages"][-2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [tool_call("call_1", "get_weather", {"city": "Paris"})],
    }
    assert second.json["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"city": "Paris", "temp_c": 21}',
    }
    # And usage is summed over both rounds
    assert record["usage"] == {"prompt_tokens": 22, "completion_tokens": 14, "total_tokens": 36}


def test_parallel_tool_calls_run_together_and_answer_in_call_order(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    # Each call waits for the other two: they only all succeed if they run at once.
    all_running = threading.Barrier(3, timeout=10)

    def get_weather(city: str) -> str:
        all_running.wait()
        return f"sunny in {city}"

    harness.functions.register(get_weather, parameters=WEATHER_PARAMETERS)
    wire_server.script(
        calls_reply(
            tool_call("a", "get_weather", {"city": "Oslo"}),
            tool_call("b", "get_weather", {"city": "Rome"}),
            tool_call("c", "get_weather", {"city": "Lima"}),
        ),
        Reply(json=chat_completion("Sunny everywhere.")),
    )

    record = harness.run(
        "chat_completions_without_history", ask(functions=[{"name": "get_weather"}])
    )

    assert record["success"] is True
    assert tool_messages(wire_server.last) == [
        {"role": "tool", "tool_call_id": "a", "content": "sunny in Oslo"},
        {"role": "tool", "tool_call_id": "b", "content": "sunny in Rome"},
        {"role": "tool", "tool_call_id": "c", "content": "sunny in Lima"},
    ]


def test_a_raising_function_is_reported_to_the_model_and_logged(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    harness = run_job(provider_config)

    def get_weather(city: str) -> str:
        raise RuntimeError(f"weather service down for {city}")

    harness.functions.register(get_weather, parameters=WEATHER_PARAMETERS)
    wire_server.script(
        calls_reply(tool_call("call_1", "get_weather", {"city": "Oslo"})),
        Reply(json=chat_completion("Sorry, I cannot tell the weather right now.")),
    )

    with capture_logs() as logs:
        record = harness.run(
            "chat_completions_without_history", ask(functions=[{"name": "get_weather"}])
        )

    assert record["success"] is True
    [message] = tool_messages(wire_server.last)
    assert message["tool_call_id"] == "call_1"
    assert "RuntimeError: weather service down for Oslo" in message["content"]
    raised = [entry for entry in logs if entry["event"] == "function.raised"]
    assert raised
    assert raised[0]["function"] == "get_weather"


def test_arguments_that_are_not_json_are_reported_to_the_model(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    calls: list[str] = []
    harness.functions.register(lambda city: calls.append(city), name="get_weather", parameters={})
    wire_server.script(
        calls_reply(tool_call("call_1", "get_weather", "{city: Oslo")),
        Reply(json=chat_completion("Let me try again later.")),
    )

    with capture_logs() as logs:
        record = harness.run(
            "chat_completions_without_history", ask(functions=[{"name": "get_weather"}])
        )

    assert record["success"] is True
    assert calls == []
    [message] = tool_messages(wire_server.last)
    assert "not valid JSON" in message["content"]
    assert any(entry["event"] == "function.call_refused" for entry in logs)


def test_an_unknown_function_name_is_reported_to_the_model(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    harness.functions.register(lambda city: "sunny", name="get_weather", parameters={})
    wire_server.script(
        calls_reply(tool_call("call_1", "delete_everything", {})),
        Reply(json=chat_completion("I cannot do that.")),
    )

    record = harness.run(
        "chat_completions_without_history", ask(functions=[{"name": "get_weather"}])
    )

    assert record["success"] is True
    [message] = tool_messages(wire_server.last)
    assert "unknown function 'delete_everything'" in message["content"]
    assert "get_weather" in message["content"]


def test_a_one_string_function_gets_the_argument_text(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    received: list[str] = []

    def lookup_order(arguments: str) -> int:
        received.append(arguments)
        return 42

    harness.functions.register(lookup_order, description="Look up an order")
    wire_server.script(
        calls_reply(
            tool_call("a", "lookup_order", {"arguments": "order 7"}),
            tool_call("b", "lookup_order", "plain text"),
        ),
        Reply(json=chat_completion("Order 7 has 42 items.")),
    )

    harness.run("chat_completions_without_history", ask(functions=[{"name": "lookup_order"}]))

    assert received == ["order 7", "plain text"]
    assert [m["content"] for m in tool_messages(wire_server.last)] == ["42", "42"]
    offered = wire_server.requests[0].json["tools"][0]["function"]
    assert offered["parameters"]["properties"] == {"arguments": {"type": "string"}}


def test_a_model_that_never_stops_calling_tools_fails_the_job_after_the_round_limit(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    harness = run_job(provider_config)
    with_rounds(harness, 3)
    harness.functions.register(lambda city: "sunny", name="get_weather", parameters={})
    wire_server.handler = lambda _: calls_reply(tool_call("x", "get_weather", {"city": "Oslo"}))

    record = harness.run(
        "chat_completions_without_history", ask(functions=[{"name": "get_weather"}])
    )

    assert record["status"] == "failed"
    assert record["error"]["type"] == "function"
    assert "after 3 rounds" in record["error"]["message"]
    # three rounds of tool calls ran, and the fourth request still asked for tools
    assert len(wire_server.requests) == 4
    assert len(tool_messages(wire_server.last)) == 3


def test_an_unregistered_function_is_a_validation_error(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run("chat_completions_without_history", ask(functions=[{"name": "nope"}]))

    assert record["error"]["type"] == "validation"
    assert "nope" in record["error"]["message"]
    assert wire_server.requests == []


def test_more_than_128_functions_are_refused(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    functions = [{"name": f"f{i}"} for i in range(129)]

    record = harness.run("chat_completions_without_history", ask(functions=functions))

    assert record["error"]["type"] == "validation"
    assert "functions" in record["error"]["message"]


def test_a_tool_choice_by_name_forces_that_function_once_then_lets_the_model_answer(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    harness.functions.register(lambda city: "sunny", name="get_weather", parameters={})
    wire_server.script(
        calls_reply(tool_call("a", "get_weather", {"city": "Oslo"})),
        Reply(json=chat_completion("Sunny.")),
    )

    harness.run(
        "chat_completions_without_history",
        ask(functions=[{"name": "get_weather"}], tool_choice="get_weather"),
    )

    first, second = wire_server.requests
    assert first.json["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert second.json["tool_choice"] == "auto"


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_tool_choice_words_are_sent_as_given(run_job: Any, wire_server: Any, choice: str) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    harness.functions.register(lambda city: "sunny", name="get_weather", parameters={})

    harness.run(
        "chat_completions_without_history",
        ask(functions=[{"name": "get_weather"}], tool_choice=choice),
    )

    assert wire_server.last.json["tool_choice"] == choice


def test_a_tool_choice_naming_a_function_not_offered_is_refused(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run("chat_completions_without_history", ask(tool_choice="get_weather"))

    assert record["error"]["type"] == "validation"
    assert "tool_choice" in record["error"]["message"]


def test_a_payload_description_replaces_the_registered_one(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    harness.functions.register(
        lambda city: "sunny", name="get_weather", description="old", parameters={}
    )

    harness.run(
        "chat_completions_without_history",
        ask(functions=[{"name": "get_weather", "description": "Weather for trip planning"}]),
    )

    assert wire_server.last.json["tools"][0]["function"]["description"] == (
        "Weather for trip planning"
    )


PAYLOADS = {
    "chat_completions_with_history": {
        "model": "m",
        "messages": [{"role": "user", "content": "Weather?"}],
    },
    "chat_completions_advanced": {
        "request": {"model": "m", "messages": [{"role": "user", "content": "Weather?"}]}
    },
    "chat_completions_multiple": {"model": "m", "prompts": ["Weather?"]},
    "summarize_text": {"model": "m", "text": "Weather report, please."},
    "chat_completions_without_history": {"model": "m", "user_prompt": "Weather?"},
}


@pytest.mark.parametrize("operation", sorted(PAYLOADS))
def test_every_chat_operation_runs_the_tool_loop(
    run_job: Any, wire_server: Any, operation: str
) -> None:
    harness = run_job(make_configuration("azure_api_key", wire_server.url))
    harness.functions.register(lambda city: "sunny", name="get_weather", parameters={})
    wire_server.script(
        calls_reply(tool_call("a", "get_weather", {"city": "Oslo"})),
        Reply(json=chat_completion("Sunny.")),
    )
    payload = {"configuration": "test", "functions": [{"name": "get_weather"}]}
    payload.update(PAYLOADS[operation])

    record = harness.run(operation, payload)

    assert record["success"] is True, record["error"]
    assert len(wire_server.requests) == 2
    assert tool_messages(wire_server.last) == [
        {"role": "tool", "tool_call_id": "a", "content": "sunny"}
    ]
    assert record["usage"]["total_tokens"] == 36


def test_tool_calls_cut_off_by_the_token_budget_are_not_run(run_job: Any, wire_server: Any) -> None:
    # Given a model whose answer ran out of tokens in the middle of a call's arguments
    harness = run_job(make_configuration("openai", wire_server.url))
    calls: list[str] = []
    harness.functions.register(
        lambda city: calls.append(city), name="get_weather", parameters=WEATHER_PARAMETERS
    )
    cut_off = chat_completion(
        None, finish_reason="length", tool_calls=[tool_call("call_1", "get_weather", '{"')]
    )
    wire_server.script(Reply(json=cut_off))

    # When the job runs
    record = harness.run(
        "chat_completions_without_history", ask(functions=[{"name": "get_weather"}], max_tokens=5)
    )

    # Then no function ran, nothing more was sent, and the job says why
    assert record["status"] == "failed"
    assert record["error"]["type"] == "provider"
    assert "cut off by its token budget" in record["error"]["message"]
    assert record["error"]["details"] == {"finish_reason": "length", "calls": ["get_weather"]}
    assert calls == []
    assert len(wire_server.requests) == 1
