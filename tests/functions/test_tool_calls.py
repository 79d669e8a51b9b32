"""Running one round of tool calls: arguments, results, and every way a call can go wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest

from worker.functions import FunctionRegistry
from worker.functions.calls import ToolCallProblem, call_function, run_tool_calls


def call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


@pytest.fixture
def functions() -> dict[str, Any]:
    registry = FunctionRegistry()
    registry.register(lambda a, b: a + b, name="add", parameters={"type": "object"})
    registry.register(lambda arguments: arguments.upper(), name="shout")
    registry.register(lambda: None, name="nothing", parameters={})
    return {name: registry.get(name) for name in registry.names()}


def test_keyword_functions_get_the_model_arguments(functions: dict[str, Any]) -> None:
    assert call_function(functions, "add", '{"a": 2, "b": 3}') == "5"


def test_non_string_results_are_sent_as_json(functions: dict[str, Any]) -> None:
    assert call_function(functions, "nothing", "") == "null"


def test_a_one_string_function_gets_the_arguments_value_or_the_raw_text(
    functions: dict[str, Any],
) -> None:
    assert call_function(functions, "shout", '{"arguments": "hi"}') == "HI"
    assert call_function(functions, "shout", '{"text": "hi"}') == '{"TEXT": "HI"}'
    assert call_function(functions, "shout", "not json") == "NOT JSON"


@pytest.mark.parametrize(
    ("name", "arguments", "problem"),
    [
        ("add", "{oops", "not valid JSON"),
        ("add", "[1, 2]", "must be a JSON object"),
        ("missing", "{}", "unknown function 'missing'"),
    ],
)
def test_calls_that_cannot_run_are_problems_for_the_model(
    functions: dict[str, Any], name: str, arguments: str, problem: str
) -> None:
    with pytest.raises(ToolCallProblem, match=problem):
        call_function(functions, name, arguments)


def test_every_call_gets_a_tool_message_in_call_order_even_when_some_fail(
    functions: dict[str, Any],
) -> None:
    messages = run_tool_calls(
        [
            call("1", "add", {"a": 1, "b": 1}),
            call("2", "add", {"a": 1}),  # the function raises TypeError
            call("3", "missing", {}),
            call("4", "shout", {"arguments": "ok"}),
        ],
        functions,
    )

    assert [m["tool_call_id"] for m in messages] == ["1", "2", "3", "4"]
    assert [m["role"] for m in messages] == ["tool"] * 4
    assert messages[0]["content"] == "2"
    assert messages[1]["content"].startswith("Error: function 'add' raised TypeError")
    assert messages[2]["content"].startswith("Error: unknown function 'missing'")
    assert messages[3]["content"] == "OK"
