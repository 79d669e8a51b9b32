"""Payload validation of the first chat operations, and their JSON Schema export."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from marshmallow import ValidationError
from support import CITY_FORMAT

from schemas import ChatCompletionsWithoutHistorySchema, ConfigurationTestSchema, to_json_schema

VALID = {"configuration": "main", "user_prompt": "Hello"}


def errors_of(payload: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as caught:
        ChatCompletionsWithoutHistorySchema().load(payload)
    messages = caught.value.messages
    assert isinstance(messages, dict)
    return messages


def test_a_minimal_payload_is_accepted() -> None:
    assert ChatCompletionsWithoutHistorySchema().load(VALID) == VALID


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"surprise": 1}, "surprise"),
        ({"temperature": "0.5"}, "temperature"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"max_tokens": "10"}, "max_tokens"),
        ({"response_format": "xml"}, "response_format"),
        ({"user_prompt": ""}, "user_prompt"),
        ({"user_prompt": 7}, "user_prompt"),
        ({"model": ["gpt"]}, "model"),
        ({"images": [{"url": "http://insecure.example/cat.png"}]}, "images"),
        ({"images": [{"url": "https://x/cat.png", "detail": "ultra"}]}, "images"),
        ({"functions": [{"name": "has space"}]}, "functions"),
        ({"functions": [{"name": f"f{i}"} for i in range(129)]}, "functions"),
        ({"tool_choice": "lookup"}, "tool_choice"),
    ],
)
def test_bad_fields_are_refused_by_name(extra: dict[str, Any], field: str) -> None:
    assert field in errors_of({**VALID, **extra})


def test_a_missing_prompt_and_configuration_are_both_reported() -> None:
    messages = errors_of({})

    assert set(messages) == {"configuration", "user_prompt"}


def test_json_mode_must_mention_json_because_the_api_requires_it() -> None:
    assert "response_format" in errors_of({**VALID, "response_format": "json_object"})
    accepted = ChatCompletionsWithoutHistorySchema().load(
        {**VALID, "response_format": "json_object", "system_prompt": "Reply in JSON."}
    )
    assert accepted["response_format"] == {"type": "json_object"}


def test_images_may_be_https_or_data_urls_and_default_to_auto_detail() -> None:
    loaded = ChatCompletionsWithoutHistorySchema().load(
        {
            **VALID,
            "images": [
                {"url": "https://example.com/a.png"},
                {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
            ],
        }
    )

    assert [i["detail"] for i in loaded["images"]] == ["auto", "low"]


def test_tool_choice_may_name_one_of_the_functions() -> None:
    loaded = ChatCompletionsWithoutHistorySchema().load(
        {**VALID, "functions": [{"name": "lookup"}], "tool_choice": "lookup"}
    )

    assert loaded["tool_choice"] == "lookup"


def test_configuration_test_has_a_default_greeting() -> None:
    loaded = ConfigurationTestSchema().load({"configuration": "main"})

    assert loaded["user_prompt"]


def test_the_exported_json_schema_agrees_with_marshmallow() -> None:
    document = to_json_schema(ChatCompletionsWithoutHistorySchema)
    json.dumps(document)  # serialisable
    validator = jsonschema.Draft202012Validator(document)

    assert validator.is_valid({**VALID, "temperature": 1, "images": [{"url": "https://x/y"}]})
    assert not validator.is_valid({**VALID, "temperature": 3})
    assert not validator.is_valid({**VALID, "surprise": 1})
    assert not validator.is_valid({"configuration": "main"})
    assert validator.is_valid({**VALID, "response_format": "text"})
    assert validator.is_valid({**VALID, "response_format": CITY_FORMAT})
    assert not validator.is_valid({**VALID, "response_format": "json_schema"})
    assert not validator.is_valid({**VALID, "response_format": {"type": "json_schema", "x": 1}})


def test_a_json_schema_format_and_the_reasoning_options_are_accepted_as_given() -> None:
    loaded = ChatCompletionsWithoutHistorySchema().load(
        {
            **VALID,
            "response_format": CITY_FORMAT,
            "reasoning_effort": "minimal",
            "verbosity": "low",
            "top_p": 0.9,
            "functions": [{"name": "lookup", "strict": True}],
        }
    )

    assert loaded["response_format"] == CITY_FORMAT
    assert (loaded["reasoning_effort"], loaded["verbosity"], loaded["top_p"]) == (
        "minimal",
        "low",
        0.9,
    )
    assert loaded["functions"] == [{"name": "lookup", "strict": True}]


@pytest.mark.parametrize(
    ("response_format", "says"),
    [
        ({"type": "json_schema"}, "json_schema"),
        ({"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}, "name"),
        ({"type": "json_schema", "json_schema": {"name": "a b"}}, "name"),
        (
            {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "objekt"}}},
            "not a valid JSON Schema",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "a", "schema": {"required": "x"}}},
            "not a valid JSON Schema",
        ),
        ({"type": "json_schema", "json_schema": {"name": "a", "schema": []}}, "JSON Schema object"),
        ({"type": "json_schema", "json_schema": {"name": "a", "strict": "yes"}}, "strict"),
        (
            {"type": "json_schema", "json_schema": {"name": "a", "shema": {}}},
            "unknown fields: shema",
        ),
        ({"type": "xml"}, "json_schema"),
        ("json_schema", "json_schema"),
    ],
)
def test_a_bad_structured_format_is_refused_saying_what_is_wrong(
    response_format: Any, says: str
) -> None:
    problems = errors_of({**VALID, "response_format": response_format, "system_prompt": "JSON"})

    assert says in json.dumps(problems["response_format"])


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"verbosity": "loud"}, "verbosity"),
        ({"top_p": 1.5}, "top_p"),
        ({"functions": [{"name": "lookup", "strict": "true"}]}, "functions"),
    ],
)
def test_reasoning_options_outside_the_spec_are_refused(extra: dict[str, Any], field: str) -> None:
    assert field in errors_of({**VALID, **extra})
