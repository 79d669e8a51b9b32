"""The payload of the ``responses`` operation: a Responses API create body.

Field names, types and ranges follow ``CreateResponse`` of OpenAI's OpenAPI spec. Known
fields are checked; unknown ones pass through to the provider unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from schemas.chat import (
    MAX_MESSAGES,
    REASONING_EFFORTS,
    VERBOSITIES,
    ToolChoiceField,
    functions_field,
    refuse_declared_functions,
)
from schemas.common import (
    MAX_TEXT_CHARS,
    PayloadSchema,
    StrictBoolean,
    StrictFloat,
    StrictInteger,
    WireObject,
    refused_flag,
    text,
)
from schemas.structured import check_json_schema

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REASONING_SUMMARIES = ("auto", "concise", "detailed")
TEXT_FORMATS = ("text", "json_object", "json_schema")


class InputField(fields.Field[Any]):
    """``input``: a text, or a list of input items (objects with a ``type`` or a ``role``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            if len(value) > MAX_TEXT_CHARS:
                raise ValidationError(f"must be at most {MAX_TEXT_CHARS} characters")
            return value
        if not isinstance(value, list):
            raise ValidationError("must be a string or a list of input items")
        if len(value) > MAX_MESSAGES:
            raise ValidationError(f"must hold at most {MAX_MESSAGES} items")
        for index, item in enumerate(value):
            if not isinstance(item, dict) or not (
                isinstance(item.get("type"), str) or isinstance(item.get("role"), str)
            ):
                raise ValidationError(f"item {index} must be an object with a type or a role")
            if item.get("type") == "function_call_output" and not isinstance(
                item.get("call_id"), str
            ):
                raise ValidationError(f"item {index}: a function_call_output needs a call_id")
        return value


class FlatToolChoiceField(ToolChoiceField):
    """``tool_choice`` as the Responses API names a function: ``{"type": "function", "name"}``."""

    unnamed_function = 'a function choice needs "name"'

    def function_name(self, choice: dict[str, Any]) -> Any:
        return choice.get("name")


def _check_tools(tools: list[Any]) -> None:
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise ValidationError(f"tool {index} must be an object with a type")
        if tool["type"] == "function" and not _TOOL_NAME.match(str(tool.get("name") or "")):
            raise ValidationError(f"tool {index} needs a valid name (function tools are flat)")
        if tool["type"] == "function" and "parameters" in tool:
            check_json_schema(tool["parameters"], f"tool {index}'s parameters")


class ReasoningSchema(Schema):
    """``reasoning``: effort and summary checked; newer fields pass through."""

    class Meta:
        unknown = INCLUDE

    effort = fields.Str(allow_none=True, validate=validate.OneOf(REASONING_EFFORTS))
    summary = fields.Str(allow_none=True, validate=validate.OneOf(REASONING_SUMMARIES))


class TextFormatSchema(Schema):
    """``text.format``: plain text, JSON mode, or a named JSON Schema (Structured Outputs)."""

    class Meta:
        unknown = INCLUDE

    type = fields.Str(required=True, validate=validate.OneOf(TEXT_FORMATS))
    name = fields.Str(validate=validate.Regexp(_TOOL_NAME))
    schema = fields.Dict(validate=lambda schema: check_json_schema(schema, "text.format.schema"))
    description = fields.Str()
    strict = StrictBoolean(allow_none=True)

    @validates_schema
    def _json_schema_is_named(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("type") == "json_schema":
            missing = [key for key in ("name", "schema") if key not in data]
            if missing:
                raise ValidationError(f"json_schema needs {' and '.join(missing)}")


class TextSchema(Schema):
    """``text``: the output's format and verbosity."""

    class Meta:
        unknown = INCLUDE

    format = fields.Nested(TextFormatSchema)
    verbosity = fields.Str(allow_none=True, validate=validate.OneOf(VERBOSITIES))


class ResponsesRequestSchema(Schema):
    """The known fields of a Responses create body (others pass through)."""

    model = text(max_chars=200)
    input = InputField()
    instructions = fields.Str(allow_none=True, validate=validate.Length(max=MAX_TEXT_CHARS))
    max_output_tokens = StrictInteger(allow_none=True, validate=validate.Range(min=16))
    temperature = StrictFloat(allow_none=True, validate=validate.Range(min=0, max=2))
    top_p = StrictFloat(allow_none=True, validate=validate.Range(min=0, max=1))
    top_logprobs = StrictInteger(allow_none=True, validate=validate.Range(min=0, max=20))
    reasoning = fields.Nested(ReasoningSchema, allow_none=True)
    text = fields.Nested(TextSchema)
    tools = fields.List(fields.Dict(), validate=_check_tools)
    tool_choice = FlatToolChoiceField()
    parallel_tool_calls = StrictBoolean(allow_none=True)
    store = StrictBoolean(allow_none=True)
    metadata = fields.Dict(
        keys=fields.Str(validate=validate.Length(max=64)),
        values=fields.Str(validate=validate.Length(max=512)),
        validate=validate.Length(max=16),
        allow_none=True,
    )
    previous_response_id = fields.Str(allow_none=True, validate=validate.Length(min=1, max=200))
    include = fields.List(fields.Str(), allow_none=True)
    truncation = fields.Str(allow_none=True, validate=validate.OneOf(["auto", "disabled"]))
    user = fields.Str(validate=validate.Length(max=256))
    safety_identifier = fields.Str(allow_none=True, validate=validate.Length(max=64))
    # The result holds one whole response; a stream has nowhere to go.
    stream = refused_flag("streaming is not supported; leave stream out")
    # The job already runs in the background; a background response would have to be
    # polled, and the job would end before it does.
    background = refused_flag("the worker is the background: leave background out")


class ResponsesSchema(PayloadSchema):
    """A whole Responses request, plus registered functions the worker runs."""

    request = WireObject(ResponsesRequestSchema, required=True)
    functions = functions_field()

    @validates_schema
    def _functions_fit_the_request(self, data: dict[str, Any], **kwargs: Any) -> None:
        request = data.get("request") or {}
        if not data.get("functions"):
            return
        refuse_declared_functions(
            data["functions"],
            {
                str(tool.get("name"))
                for tool in request.get("tools") or []
                if isinstance(tool, dict) and tool.get("type") in ("function", "custom")
            },
        )
        # The worker carries the conversation from round to round itself; a stored
        # conversation would receive every round's items twice.
        if request.get("conversation") is not None:
            raise ValidationError(
                "conversation cannot be used with functions (the worker carries the "
                "conversation between rounds itself)",
                "request",
            )
