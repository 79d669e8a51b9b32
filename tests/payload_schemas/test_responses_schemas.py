"""Payload validation of the responses operation, and its JSON Schema export."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from marshmallow import ValidationError

from schemas import to_json_schema
from schemas.responses import ResponsesSchema

VALID = {"configuration": "main", "request": {"model": "gpt-5-mini", "input": "Hello"}}


def load(request: dict[str, Any], **extra: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = ResponsesSchema().load(
        {**VALID, "request": {**VALID["request"], **request}, **extra}
    )
    return loaded


def errors_of(request: dict[str, Any], **extra: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        load(request, **extra)
    return json.dumps(caught.value.messages)


def test_a_minimal_payload_is_accepted() -> None:
    assert ResponsesSchema().load(VALID) == VALID


def test_input_may_be_a_list_of_items_of_any_kind() -> None:
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "3"},
        {"type": "item_reference", "id": "msg_1"},
    ]

    assert load({"input": items})["request"]["input"] == items


def test_unknown_fields_pass_through_at_every_level() -> None:
    request = {
        "reasoning": {"effort": "minimal", "summary": None, "context": "all_turns"},
        "text": {"format": {"type": "text"}, "verbosity": "high", "later": True},
        "prompt_cache_key": "k",
        "service_tier": "flex",
    }

    assert load(request)["request"] == {**VALID["request"], **request}


def test_a_json_schema_format_is_accepted_with_its_name_and_schema() -> None:
    schema_format = {"type": "json_schema", "name": "colours", "schema": {"type": "object"}}

    assert load({"text": {"format": schema_format}})["request"]["text"]["format"] == (schema_format)


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"input": {"role": "user"}}, "input"),
        ({"input": ["just text"]}, "input"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"max_output_tokens": 100.5}, "max_output_tokens"),
        ({"temperature": True}, "temperature"),
        ({"top_p": -0.1}, "top_p"),
        ({"top_logprobs": 21}, "top_logprobs"),
        ({"reasoning": {"summary": "long"}}, "reasoning"),
        ({"reasoning": "high"}, "reasoning"),
        ({"text": {"verbosity": "chatty"}}, "text"),
        ({"text": {"format": {"type": "json_schema", "name": "bad name!", "schema": {}}}}, "text"),
        ({"tools": [{"name": "no type"}]}, "tools"),
        ({"tools": [{"type": "function"}]}, "tools"),
        ({"tool_choice": {"name": "f"}}, "tool_choice"),
        ({"parallel_tool_calls": "yes"}, "parallel_tool_calls"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"k" * 65: "v"}}, "metadata"),
        ({"include": "reasoning.encrypted_content"}, "include"),
        ({"previous_response_id": ""}, "previous_response_id"),
        ({"safety_identifier": "x" * 65}, "safety_identifier"),
        ({"stream": True}, "stream"),
        ({"background": True}, "background"),
    ],
)
def test_bad_known_fields_are_refused_by_name(request_fields: dict[str, Any], field: str) -> None:
    assert field in errors_of(request_fields)


def test_stream_and_background_say_why_they_are_refused() -> None:
    assert "streaming is not supported" in errors_of({"stream": True})
    assert "the worker is the background" in errors_of({"background": True})


def test_a_function_may_not_share_a_name_with_a_declared_tool() -> None:
    tools = [{"type": "custom", "name": "lookup"}]

    message = errors_of({"tools": tools}, functions=[{"name": "lookup"}])

    assert "named both in functions and in request.tools: lookup" in message


def test_functions_cannot_run_in_a_stored_conversation() -> None:
    assert "conversation cannot be used with functions" in errors_of(
        {"conversation": "conv_1"}, functions=[{"name": "lookup"}]
    )
    assert load({"conversation": "conv_1"})["request"]["conversation"] == "conv_1"


def test_the_exported_json_schema_agrees_with_marshmallow() -> None:
    document = to_json_schema(ResponsesSchema)
    json.dumps(document)
    validator = jsonschema.Draft202012Validator(document)
    request = document["properties"]["request"]

    assert validator.is_valid({**VALID, "request": {**VALID["request"], "future": 1}})
    assert validator.is_valid({**VALID, "request": {"reasoning": {"effort": None}}})
    assert not validator.is_valid({**VALID, "request": {"reasoning": {"effort": "extreme"}}})
    assert not validator.is_valid({**VALID, "request": {"temperature": 3}})
    assert not validator.is_valid({**VALID, "surprise": 1})
    assert not validator.is_valid({"configuration": "main"})
    assert request["properties"]["reasoning"]["properties"]["effort"]["enum"][:3] == [
        "none",
        "minimal",
        "low",
    ]


@pytest.mark.parametrize(
    ("request_fields", "says"),
    [
        (
            {"text": {"format": {"type": "json_schema", "name": "a", "schema": {"type": 7}}}},
            "text.format.schema is not a valid JSON Schema",
        ),
        (
            {"tools": [{"type": "function", "name": "f", "parameters": {"required": "x"}}]},
            "tool 0's parameters is not a valid JSON Schema",
        ),
    ],
)
def test_schemas_in_the_request_are_checked_as_json_schema(
    request_fields: dict[str, Any], says: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        ResponsesSchema().load(
            {
                "configuration": "main",
                "request": {"model": "gpt-5-mini", "input": "hi", **request_fields},
            }
        )

    assert says in json.dumps(caught.value.messages)
