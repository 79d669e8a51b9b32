"""chat_completions_advanced: the whole request in the wire format, the full response out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import Reply, chat_completion, make_configuration

FULL_REQUEST = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "Answer in JSON."},
        {"role": "user", "content": "Two colours?"},
    ],
    "frequency_penalty": 0.5,
    "presence_penalty": -0.5,
    "max_tokens": 40,
    "temperature": 0.7,
    "top_p": 0.9,
    "n": 2,
    "stop": ["\n\n", "END"],
    "seed": 1234,
    "response_format": {"type": "json_object"},
    "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
    "tool_choice": "auto",
    "user": "user-1",
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "top_logprobs": 3,
}


def two_choices_with_filter_results() -> dict[str, Any]:
    response = chat_completion('{"colours": ["red", "blue"]}')
    second = json.loads(json.dumps(response["choices"][0]))
    second.update(index=1, finish_reason="length")
    second["message"]["content"] = '{"colours": ["gre'
    response["choices"].append(second)
    response["prompt_filter_results"] = [
        {"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False}}}
    ]
    for choice in response["choices"]:
        choice["content_filter_results"] = {"violence": {"filtered": False, "severity": "safe"}}
    return response


def test_the_request_is_sent_as_given_and_the_full_response_returned(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    response = two_choices_with_filter_results()
    wire_server.script(Reply(json=response))
    harness = run_job(provider_config)

    record = harness.run(
        "chat_completions_advanced", {"configuration": "test", "request": FULL_REQUEST}
    )

    assert record["status"] == "succeeded"
    assert record["output"] == response
    assert record["usage"] == response["usage"]
    sent = wire_server.last.json
    expected = dict(FULL_REQUEST)
    if provider_config.is_azure:
        del expected["model"]
    assert sent == expected


def test_fields_the_worker_does_not_know_pass_through_unchanged(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    request = {
        "model": "m",
        "messages": [{"role": "developer", "content": "x", "future_field": 1}],
        "reasoning_effort": "low",
        "metadata": {"team": "a"},
        "max_completion_tokens": 10,
    }

    record = harness.run("chat_completions_advanced", {"configuration": "test", "request": request})

    assert record["success"] is True
    assert wire_server.last.json == request


def test_openai_requests_need_a_model(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "chat_completions_advanced",
        {"configuration": "test", "request": {"messages": [{"role": "user", "content": "hi"}]}},
    )

    assert record["error"]["type"] == "validation"
    assert "model" in record["error"]["message"]
    assert wire_server.requests == []


def test_azure_requests_need_no_model(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("azure_bearer", wire_server.url))

    record = harness.run(
        "chat_completions_advanced",
        {"configuration": "test", "request": {"messages": [{"role": "user", "content": "hi"}]}},
    )

    assert record["success"] is True
    assert "model" not in wire_server.last.json


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 2.5),
        ("top_p", 1.5),
        ("frequency_penalty", -3),
        ("presence_penalty", "1"),
        ("n", 0),
        ("stop", ["a", "b", "c", "d", "e"]),
        ("stop", 7),
        ("seed", 1.5),
        ("top_logprobs", 21),
        ("logit_bias", {"50256": 101}),
        ("logprobs", "yes"),
        ("response_format", {"kind": "json"}),
        ("tools", [{"type": "function", "function": {"name": "bad name!"}}]),
        ("tool_choice", "sometimes"),
        ("stream", True),
        ("messages", []),
        ("messages", [{"content": "no role"}]),
        ("messages", [{"role": "tool", "content": "no id"}]),
    ],
)
def test_invalid_known_fields_are_refused(
    run_job: Any, wire_server: Any, field: str, value: Any
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}], field: value}

    record = harness.run("chat_completions_advanced", {"configuration": "test", "request": request})

    assert record["error"]["type"] == "validation"
    assert field in json.dumps(record["error"]["details"])
    assert wire_server.requests == []


def tool_call(call_id: str, name: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}


def test_with_functions_the_loop_runs_and_the_final_response_is_returned_with_summed_usage(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    harness = run_job(provider_config)
    harness.functions.register(lambda: {"count": 3}, name="count_orders", parameters={})
    final = chat_completion(
        "You have 3 orders.",
        usage={"prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35},
    )
    wire_server.script(
        Reply(
            json=chat_completion(
                None, finish_reason="tool_calls", tool_calls=[tool_call("a", "count_orders")]
            )
        ),
        Reply(json=final),
    )
    request = {
        "model": "m",
        "messages": [{"role": "user", "content": "How many orders?"}],
        "seed": 1,
    }

    record = harness.run(
        "chat_completions_advanced",
        {"configuration": "test", "request": request, "functions": [{"name": "count_orders"}]},
    )

    assert record["output"]["choices"] == final["choices"]
    assert record["output"]["system_fingerprint"] == "fp_test"
    assert record["output"]["usage"] == {
        "prompt_tokens": 41,
        "completion_tokens": 12,
        "total_tokens": 53,
    }
    assert record["usage"] == record["output"]["usage"]
    first, second = wire_server.requests
    assert first.json["tools"][0]["function"]["name"] == "count_orders"
    assert first.json["seed"] == 1
    assert second.json["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "a",
        "content": '{"count": 3}',
    }


def test_calls_of_the_callers_own_tools_are_returned_to_the_caller(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    harness.functions.register(lambda: "3", name="count_orders", parameters={})
    asked = chat_completion(None, finish_reason="tool_calls", tool_calls=[tool_call("a", "lookup")])
    wire_server.script(Reply(json=asked))
    request = dict(FULL_REQUEST, n=1)

    record = harness.run(
        "chat_completions_advanced",
        {"configuration": "test", "request": request, "functions": [{"name": "count_orders"}]},
    )

    assert record["output"] == asked
    assert len(wire_server.requests) == 1
    names = [t["function"]["name"] for t in wire_server.last.json["tools"]]
    assert names == ["lookup", "count_orders"]


def test_several_choices_cannot_run_functions(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    harness.functions.register(lambda: "3", name="count_orders", parameters={})

    record = harness.run(
        "chat_completions_advanced",
        {"configuration": "test", "request": FULL_REQUEST, "functions": [{"name": "count_orders"}]},
    )

    assert record["error"]["type"] == "validation"
    assert "n must be 1" in record["error"]["message"]


def test_a_provider_error_keeps_its_message(run_job: Any, wire_server: Any) -> None:
    wire_server.script(
        Reply(
            400,
            {
                "error": {
                    "message": "Invalid value for 'seed'",
                    "type": "invalid_request_error",
                    "param": "seed",
                    "code": None,
                }
            },
        )
    )
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "chat_completions_advanced",
        {
            "configuration": "test",
            "request": {"model": "m", "messages": [{"role": "user", "content": "x"}]},
        },
    )

    assert record["error"]["type"] == "provider"
    assert record["error"]["status_code"] == 400
    assert "Invalid value for 'seed'" in record["error"]["message"]
