"""responses: a Responses API body in, the full response out, worker functions run between."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from support import CrashingSteps, Reply, WorkerKilled, make_configuration


def usage(input_tokens: int, output_tokens: int, cached: int, reasoning: int) -> dict[str, Any]:
    """A ResponseUsage object."""
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output_tokens,
    }


USAGE = usage(20, 10, cached=4, reasoning=6)
COUNT_PARAMETERS = {"type": "object", "properties": {"status": {"type": "string"}}}


def message(*texts: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": "msg_1",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": t, "annotations": []} for t in texts],
    }


def function_call(call_id: str, name: str, arguments: Any = None) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_{call_id}",
        "call_id": call_id,
        "name": name,
        "arguments": json.dumps(arguments or {}),
        "status": "completed",
    }


REASONING = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA-opaque"}


def response(
    *output: dict[str, Any],
    status: str = "completed",
    reason: str | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Response object as ``POST /responses`` returns it."""
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1741476542,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": reason} if reason else None,
        "instructions": None,
        "model": "gpt-5-mini",
        "output": list(output),
        "parallel_tool_calls": True,
        "metadata": {},
        "tool_choice": "auto",
        "tools": [],
        "temperature": 1.0,
        "top_p": 1.0,
        "store": False,
        "usage": usage or USAGE,
    }


def calls_reply(*calls: dict[str, Any], reasoning: bool = False) -> Reply:
    return Reply(json=response(*([REASONING] if reasoning else []), *calls))


def payload(request: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"configuration": "test", "request": {"model": "gpt-5-mini", **request}, **extra}


@pytest.fixture
def harness(run_job: Any, wire_server: Any) -> Any:
    return run_job(make_configuration("openai", wire_server.url))


def with_rounds(harness: Any, rounds: int) -> None:
    harness.runner.settings = dataclasses.replace(harness.runner.settings, max_tool_rounds=rounds)


def outputs_sent(request: Any) -> list[dict[str, Any]]:
    return [item for item in request.json["input"] if item.get("type") == "function_call_output"]


# --- one request, one response --------------------------------------------------------


FULL_REQUEST = {
    "model": "gpt-5-mini",
    "input": [{"role": "user", "content": "Two colours, as JSON."}],
    "instructions": "Answer briefly.",
    "max_output_tokens": 400,
    "temperature": 0.7,
    "top_p": 0.9,
    "reasoning": {"effort": "low", "summary": "auto"},
    "text": {
        "format": {
            "type": "json_schema",
            "name": "colours",
            "schema": {"type": "object", "properties": {"colours": {"type": "array"}}},
            "strict": True,
        },
        "verbosity": "low",
    },
    "tools": [{"type": "function", "name": "lookup", "parameters": {}}],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "metadata": {"team": "a"},
    "include": ["message.output_text.logprobs"],
    "truncation": "disabled",
    "user": "user-1",
}


def test_the_request_is_sent_as_given_and_the_full_response_returned_with_output_text(
    harness: Any, wire_server: Any
) -> None:
    # Given a response with reasoning, two messages and a refusal part
    answer = response(REASONING, message('{"colours": ', '["red"'), message(', "blue"]}'))
    answer["output"][2]["content"].append({"type": "refusal", "refusal": "not this"})
    wire_server.script(Reply(json=answer))

    record = harness.run("responses", {"configuration": "test", "request": FULL_REQUEST})

    # Then the request went to /responses as given, not stored
    assert record["status"] == "succeeded", record["error"]
    assert wire_server.last.path == "/v1/responses"
    assert wire_server.last.json == {**FULL_REQUEST, "store": False}
    # And the output is the response with the text of its output_text parts, joined
    assert record["output"] == {**answer, "output_text": '{"colours": ["red", "blue"]}'}
    assert record["usage"] == USAGE


def test_a_response_without_message_text_has_an_empty_output_text(
    harness: Any, wire_server: Any
) -> None:
    wire_server.script(Reply(json=response(REASONING)))

    record = harness.run("responses", payload({"input": "hi"}))

    assert record["output"]["output_text"] == ""


def test_fields_the_worker_does_not_know_pass_through_unchanged(
    harness: Any, wire_server: Any
) -> None:
    wire_server.script(Reply(json=response(message("ok"))))
    request = {
        "model": "m",
        "input": [{"type": "message", "role": "developer", "content": "x", "future": 1}],
        "reasoning": {"effort": "high", "context": "all_turns"},
        "prompt_cache_key": "k",
        "service_tier": "flex",
        "store": True,
    }

    record = harness.run("responses", {"configuration": "test", "request": request})

    assert record["success"] is True
    assert wire_server.last.json == request


@pytest.mark.parametrize(
    ("given", "sent"), [({}, False), ({"store": None}, False), ({"store": True}, True)]
)
def test_store_is_false_unless_the_request_asks_for_it(
    harness: Any, wire_server: Any, given: dict[str, Any], sent: bool
) -> None:
    wire_server.script(Reply(json=response(message("ok"))))

    harness.run("responses", payload({"input": "hi", **given}))

    assert wire_server.last.json["store"] is sent


@pytest.mark.parametrize("field", ["stream", "background"])
def test_stream_and_background_are_refused_before_any_request(
    harness: Any, wire_server: Any, field: str
) -> None:
    record = harness.run("responses", payload({"input": "hi", field: True}))

    assert record["error"]["type"] == "validation"
    assert field in json.dumps(record["error"]["details"])
    assert len(wire_server.requests) == 0


def test_openai_requests_need_a_model(harness: Any, wire_server: Any) -> None:
    record = harness.run("responses", {"configuration": "test", "request": {"input": "hi"}})

    assert record["error"]["type"] == "validation"
    assert "model" in record["error"]["message"]
    assert wire_server.requests == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("input", 7),
        ("input", [{"content": "neither type nor role"}]),
        ("input", [{"type": "function_call_output", "output": "no call id"}]),
        ("max_output_tokens", 15),
        ("temperature", 2.5),
        ("top_p", "1"),
        ("reasoning", {"effort": "extreme"}),
        ("text", {"format": {"type": "xml"}}),
        ("text", {"format": {"type": "json_schema", "schema": {}}}),
        ("tools", [{"type": "function", "function": {"name": "chat_shaped"}}]),
        ("tool_choice", "sometimes"),
        ("tool_choice", {"type": "function"}),
        ("metadata", {"k": 1}),
        ("truncation", "middle"),
        ("store", "no"),
    ],
)
def test_invalid_known_fields_are_refused(
    harness: Any, wire_server: Any, field: str, value: Any
) -> None:
    record = harness.run("responses", payload({"input": "hi", field: value}))

    assert record["error"]["type"] == "validation"
    assert field in json.dumps(record["error"]["details"])
    assert wire_server.requests == []


# --- worker functions -----------------------------------------------------------------


def test_a_worker_function_runs_and_its_output_goes_back_with_the_output_items(
    harness: Any, wire_server: Any
) -> None:
    # Given a registered function, and a model that reasons, calls it, then answers
    seen: list[str] = []

    def count_orders(status: str) -> dict[str, int]:
        seen.append(status)
        return {"count": 3}

    harness.functions.register(
        count_orders, description="Count the orders", parameters=COUNT_PARAMETERS
    )
    first = calls_reply(function_call("call_1", "count_orders", {"status": "open"}), reasoning=True)
    final = response(message("You have 3 open orders."), usage=usage(50, 8, cached=20, reasoning=0))
    wire_server.script(first, Reply(json=final))

    # When the job names the function
    record = harness.run(
        "responses",
        payload({"input": "How many open orders?"}, functions=[{"name": "count_orders"}]),
    )

    # Then it was offered as a flat, non-strict function tool and ran once
    assert record["status"] == "succeeded", record["error"]
    assert seen == ["open"]
    sent_first, sent_second = wire_server.requests
    assert sent_first.json["tools"] == [
        {
            "type": "function",
            "name": "count_orders",
            "description": "Count the orders",
            "parameters": COUNT_PARAMETERS,
            "strict": False,
        }
    ]
    # And the second request carries the input, every output item and the result
    assert sent_second.json["input"] == [
        {"role": "user", "content": "How many open orders?"},
        REASONING,
        function_call("call_1", "count_orders", {"status": "open"}),
        {"type": "function_call_output", "call_id": "call_1", "output": '{"count": 3}'},
    ]
    assert sent_second.json["tools"] == sent_first.json["tools"]
    assert sent_second.json["store"] is False
    # And the output is the final response, usage summed over both rounds
    summed = usage(70, 18, cached=24, reasoning=6)
    assert record["output"] == {**final, "usage": summed, "output_text": "You have 3 open orders."}
    assert record["usage"] == summed


@pytest.mark.parametrize(
    ("request_fields", "include"),
    [
        ({"reasoning": {"effort": "low"}}, ["reasoning.encrypted_content"]),
        (
            {"reasoning": {"effort": "low"}, "include": ["message.output_text.logprobs"]},
            ["message.output_text.logprobs", "reasoning.encrypted_content"],
        ),
        (
            {"reasoning": {"effort": "low"}, "include": ["reasoning.encrypted_content"]},
            ["reasoning.encrypted_content"],
        ),
        ({"reasoning": {"effort": "low"}, "store": True}, None),
        ({}, None),
    ],
)
def test_encrypted_reasoning_is_asked_for_when_functions_run_unstored_with_reasoning(
    harness: Any, wire_server: Any, request_fields: dict[str, Any], include: list[str] | None
) -> None:
    harness.functions.register(lambda: "3", name="count_orders", parameters={})
    wire_server.script(Reply(json=response(message("ok"))))

    harness.run(
        "responses",
        payload({"input": "hi", **request_fields}, functions=[{"name": "count_orders"}]),
    )

    assert wire_server.last.json.get("include") == include


def test_without_functions_the_include_is_left_as_given(harness: Any, wire_server: Any) -> None:
    wire_server.script(Reply(json=response(message("ok"))))

    harness.run("responses", payload({"input": "hi", "reasoning": {"effort": "low"}}))

    assert "include" not in wire_server.last.json


def test_calls_of_the_callers_own_tools_are_returned_to_the_caller(
    harness: Any, wire_server: Any
) -> None:
    runs: list[str] = []
    harness.functions.register(lambda: runs.append("ran"), name="count_orders", parameters={})
    asked = response(function_call("a", "count_orders"), function_call("b", "lookup"))
    wire_server.script(Reply(json=asked))
    request = {"input": "hi", "tools": [{"type": "function", "name": "lookup", "parameters": {}}]}

    record = harness.run("responses", payload(request, functions=[{"name": "count_orders"}]))

    assert record["output"] == {**asked, "output_text": ""}
    assert runs == []
    assert len(wire_server.requests) == 1
    assert [tool["name"] for tool in wire_server.last.json["tools"]] == ["lookup", "count_orders"]


def test_function_calls_in_an_incomplete_response_are_not_run(
    harness: Any, wire_server: Any
) -> None:
    # Given a response cut off by its output budget while calling a function
    runs: list[str] = []
    harness.functions.register(
        lambda status: runs.append(status), name="count_orders", parameters=COUNT_PARAMETERS
    )
    cut_off = function_call("call_1", "count_orders")
    cut_off.update(arguments='{"sta', status="incomplete")
    wire_server.script(
        Reply(json=response(cut_off, status="incomplete", reason="max_output_tokens"))
    )

    # When the job runs
    record = harness.run(
        "responses",
        payload({"input": "hi", "max_output_tokens": 16}, functions=[{"name": "count_orders"}]),
    )

    # Then the function did not run, nothing more was sent, and the job says why
    assert record["status"] == "failed"
    assert record["error"]["type"] == "provider"
    assert "max_output_tokens" in record["error"]["message"]
    assert record["error"]["details"] == {
        "status": "incomplete",
        "reason": "max_output_tokens",
        "calls": ["count_orders"],
    }
    assert runs == []
    assert len(wire_server.requests) == 1


def test_a_model_that_never_stops_calling_fails_the_job_after_the_round_limit(
    harness: Any, wire_server: Any
) -> None:
    with_rounds(harness, 2)
    harness.functions.register(lambda: "3", name="count_orders", parameters={})
    call_ids = iter(range(100))
    wire_server.handler = lambda _: calls_reply(
        function_call(f"call_{next(call_ids)}", "count_orders")
    )

    record = harness.run(
        "responses", payload({"input": "hi"}, functions=[{"name": "count_orders"}])
    )

    assert record["status"] == "failed"
    assert record["error"]["type"] == "function"
    assert "after 2 rounds" in record["error"]["message"]
    assert len(wire_server.requests) == 3
    assert [item["call_id"] for item in outputs_sent(wire_server.last)] == ["call_0", "call_1"]


def test_a_forced_function_choice_is_forced_once_then_the_model_may_answer(
    harness: Any, wire_server: Any
) -> None:
    harness.functions.register(lambda: "3", name="count_orders", parameters={})
    wire_server.script(
        calls_reply(function_call("a", "count_orders")), Reply(json=response(message("3")))
    )
    choice = {"type": "function", "name": "count_orders"}

    harness.run(
        "responses",
        payload({"input": "hi", "tool_choice": choice}, functions=[{"name": "count_orders"}]),
    )

    first, second = wire_server.requests
    assert first.json["tool_choice"] == choice
    assert second.json["tool_choice"] == "auto"


# --- checkpoints: a job delivered again resumes ---------------------------------------


def test_a_redelivered_job_resends_no_answered_round_and_reruns_no_answered_call(
    harness: Any, wire_server: Any
) -> None:
    # Given a model that asks for two calls, then answers
    wire_server.script(
        calls_reply(function_call("c1", "quick_step"), function_call("c2", "slow_step")),
        Reply(json=response(message("both done"))),
    )
    steps = CrashingSteps()
    steps.register(harness.functions)
    job = payload({"input": "Do both"}, functions=[{"name": "quick_step"}, {"name": "slow_step"}])

    # When the worker dies during the second call, and the job is delivered again
    with pytest.raises(WorkerKilled):
        harness.run("responses", job, job_id="job-r")
    steps.armed = False
    record = harness.run("responses", job, job_id="job-r")

    # Then the first round was not asked again, the answered call did not run again,
    # and the second request carries both results in call order
    assert record["status"] == "succeeded", record["error"]
    assert record["output"]["output_text"] == "both done"
    assert steps.calls == ["quick", "slow", "slow"]
    assert len(wire_server.requests) == 2
    assert [(item["call_id"], item["output"]) for item in outputs_sent(wire_server.last)] == [
        ("c1", "quick done"),
        ("c2", "slow done"),
    ]
    assert "job-r" not in harness.runner.ledgers.backend.jobs


def test_a_job_retried_after_a_failed_second_round_reuses_the_first_round_and_results(
    run_job: Any, wire_server: Any
) -> None:
    # Given a model that calls a function, then fails once with a 500, then answers
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=1)
    runs: list[str] = []

    def count() -> str:
        runs.append("ran")
        return "3"

    harness.functions.register(count, parameters={})
    wire_server.script(
        calls_reply(function_call("a", "count")),
        Reply(500, {"error": {"message": "try later", "type": "server_error"}}),
        Reply(json=response(message("3 orders"))),
    )

    # When the job runs (the runner retries it after the 500)
    record = harness.run("responses", payload({"input": "hi"}, functions=[{"name": "count"}]))

    # Then the first round was sent once, the function ran once, and the second round's
    # retry carried the kept result
    assert record["status"] == "succeeded", record["error"]
    assert record["attempts"] == 2
    assert runs == ["ran"]
    assert len(wire_server.requests) == 3
    assert wire_server.requests[1].json == wire_server.requests[2].json
    assert outputs_sent(wire_server.last) == [
        {"type": "function_call_output", "call_id": "a", "output": "3"}
    ]
    assert record["usage"]["total_tokens"] == 60
