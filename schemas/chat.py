"""Payloads of the chat operations."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

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
from schemas.structured import ResponseFormatField, check_json_schema, check_response_format

#: The Chat Completions API takes at most this many tools in one request.
MAX_FUNCTIONS = 128
_DATA_URL = re.compile(r"^data:image/[A-Za-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+$")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Most messages one conversation may hold, and most prompts one multiple-prompt job.
MAX_MESSAGES = 10_000
MAX_PROMPTS = 100
ROLES = ("developer", "system", "user", "assistant", "tool")
#: ``reasoning_effort`` and ``verbosity`` as the OpenAI spec lists them.
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
VERBOSITIES = ("low", "medium", "high")


class ImageSchema(Schema):
    """An image for vision: an https URL or a base64 data URL, and a detail level."""

    url = fields.Str(required=True, validate=validate.Length(min=1, max=30_000_000))
    detail = fields.Str(load_default="auto", validate=validate.OneOf(["auto", "low", "high"]))

    @validates_schema
    def _url_kind(self, data: dict[str, Any], **kwargs: Any) -> None:
        url = data.get("url", "")
        if not (
            url.startswith("https://")
            or _DATA_URL.match(url if len(url) <= 250 else url[:200] + url[-50:])
        ):
            raise ValidationError(
                "must be an https:// URL or a data:image/...;base64,... URL", "url"
            )


class FunctionRefSchema(Schema):
    """Picks a function registered with the worker, by name."""

    name = fields.Str(required=True, validate=validate.Regexp(_FUNCTION_NAME))
    description = fields.Str(validate=validate.Length(max=4096))
    #: Ask the model to follow the parameters schema exactly (Structured Outputs).
    strict = StrictBoolean()


def functions_field() -> fields.List[Any]:
    return fields.List(
        fields.Nested(FunctionRefSchema), validate=validate.Length(min=1, max=MAX_FUNCTIONS)
    )


def refuse_declared_functions(functions: list[dict[str, Any]] | None, declared: set[str]) -> None:
    """A worker function may not share a name with a tool the request declares itself."""
    overlap = {f["name"] for f in functions or []} & declared
    if overlap:
        raise ValidationError(
            "named both in functions and in request.tools: " + ", ".join(sorted(overlap)),
            "functions",
        )


def tool_choice_field() -> fields.Str:
    """``auto``, ``none``, ``required`` or a function's name (checked against ``functions``)."""
    return fields.Str(validate=validate.Regexp(_FUNCTION_NAME))


class ChatOptionsSchema(PayloadSchema):
    """Options every simple chat operation shares."""

    model = text(max_chars=200)
    response_format = ResponseFormatField()
    temperature = StrictFloat(validate=validate.Range(min=0, max=2))
    top_p = StrictFloat(validate=validate.Range(min=0, max=1))
    #: Sent as ``max_completion_tokens`` or ``max_tokens``, as the configuration's API takes.
    max_tokens = StrictInteger(validate=validate.Range(min=1, max=1_000_000))
    reasoning_effort = fields.Str(validate=validate.OneOf(REASONING_EFFORTS))
    verbosity = fields.Str(validate=validate.OneOf(VERBOSITIES))
    functions = functions_field()
    tool_choice = tool_choice_field()

    @validates_schema
    def _tool_choice_names_a_function(self, data: dict[str, Any], **kwargs: Any) -> None:
        choice = data.get("tool_choice")
        if choice is None or choice in ("auto", "none", "required"):
            return
        names = {f["name"] for f in data.get("functions") or []}
        if choice not in names:
            raise ValidationError(
                "must be auto, none, required or the name of one of `functions`", "tool_choice"
            )

    @validates_schema
    def _json_mode_mentions_json(self, data: dict[str, Any], **kwargs: Any) -> None:
        # The API refuses json_object unless a message mentions JSON; say so before calling.
        if (data.get("response_format") or {}).get("type") != "json_object":
            return
        for texts in self.conversation_texts(data):
            if not any("json" in str(t).lower() for t in texts):
                raise ValidationError(
                    "json_object needs the word JSON in a prompt or message (the API requires it)",
                    "response_format",
                )

    def conversation_texts(self, data: dict[str, Any]) -> list[list[Any]]:
        """The texts of each conversation the payload starts (one, unless overridden)."""
        texts = [data.get(k) or "" for k in ("user_prompt", "system_prompt")]
        texts += [m.get("content") or "" for m in data.get("messages") or []]
        return [texts]


class ChatCompletionsWithoutHistorySchema(ChatOptionsSchema):
    """One user prompt, an optional system prompt, optional images."""

    user_prompt = text(required=True)
    system_prompt = text()
    images = fields.List(fields.Nested(ImageSchema), validate=validate.Length(min=1, max=50))


class ConfigurationTestSchema(PayloadSchema):
    """A tiny chat call that tells whether a configuration works."""

    model = text(max_chars=200)
    user_prompt = text(load_default="Hello! Please answer with one short sentence.")


# --- chat_completions_with_history -----------------------------------------------------


class ToolCallFunctionSchema(Schema):
    """The function an earlier assistant message called, and its argument text."""

    name = fields.Str(required=True, validate=validate.Regexp(_FUNCTION_NAME))
    arguments = fields.Str(required=True, validate=validate.Length(max=MAX_TEXT_CHARS))


class ToolCallSchema(Schema):
    """A tool call of an earlier assistant message (needed before its ``tool`` answers)."""

    id = text(required=True, max_chars=200)
    type = fields.Str(load_default="function", validate=validate.Equal("function"))
    function = fields.Nested(ToolCallFunctionSchema, required=True)


class MessageSchema(Schema):
    """One message of a conversation; which fields fit depends on ``role``."""

    role = fields.Str(required=True, validate=validate.OneOf(ROLES))
    content = fields.Str(allow_none=True, validate=validate.Length(max=MAX_TEXT_CHARS))
    name = fields.Str(validate=validate.Regexp(_FUNCTION_NAME))
    images = fields.List(fields.Nested(ImageSchema), validate=validate.Length(min=1, max=50))
    tool_call_id = text(max_chars=200)
    tool_calls = fields.List(
        fields.Nested(ToolCallSchema), validate=validate.Length(min=1, max=MAX_FUNCTIONS)
    )

    @validates_schema
    def _fields_fit_the_role(self, data: dict[str, Any], **kwargs: Any) -> None:
        role = data.get("role")
        problems: dict[str, str] = {}
        if data.get("images") and role != "user":
            problems["images"] = "only user messages carry images"
        if role == "tool" and not data.get("tool_call_id"):
            problems["tool_call_id"] = "required for tool messages"
        if data.get("tool_call_id") and role != "tool":
            problems["tool_call_id"] = "only tool messages carry a tool_call_id"
        if data.get("tool_calls") and role != "assistant":
            problems["tool_calls"] = "only assistant messages carry tool_calls"
        if data.get("content") is None and not (role == "assistant" and data.get("tool_calls")):
            problems["content"] = "required (only an assistant message with tool_calls may omit it)"
        if problems:
            raise ValidationError(problems)


class ChatCompletionsWithHistorySchema(ChatOptionsSchema):
    """A conversation so far, oldest message first."""

    messages = fields.List(
        fields.Nested(MessageSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_MESSAGES),
    )

    @validates_schema
    def _tool_messages_answer_earlier_calls(self, data: dict[str, Any], **kwargs: Any) -> None:
        # The API refuses a tool message whose call it has not seen; say which one.
        called: set[str] = set()
        for index, message in enumerate(data.get("messages") or []):
            called.update(call["id"] for call in message.get("tool_calls") or [])
            if message.get("role") == "tool" and message.get("tool_call_id") not in called:
                raise ValidationError(
                    f"message {index}: tool_call_id does not match a tool call of an earlier "
                    "assistant message",
                    "messages",
                )


# --- chat_completions_multiple and summarize_text -------------------------------------


class ChatCompletionsMultipleSchema(ChatOptionsSchema):
    """Several prompts, each answered on its own (with the same system prompt)."""

    prompts = fields.List(text(), required=True, validate=validate.Length(min=1, max=MAX_PROMPTS))
    system_prompt = text()

    def conversation_texts(self, data: dict[str, Any]) -> list[list[Any]]:
        system = data.get("system_prompt") or ""
        return [[system, prompt] for prompt in data.get("prompts") or []]


class SummarizeTextSchema(ChatOptionsSchema):
    """A text to summarize; ``instructions`` replaces the default system instruction."""

    instructions = text(max_chars=100_000)
    # Spelled out: a field named ``text`` hides the ``text`` helper in this class body.
    text = fields.Str(required=True, validate=validate.Length(min=1, max=MAX_TEXT_CHARS))

    def conversation_texts(self, data: dict[str, Any]) -> list[list[Any]]:
        return [[data.get("instructions") or "", data.get("text") or ""]]


# --- chat_completions_advanced ---------------------------------------------------------


class StopField(fields.Field[Any]):
    """``stop``: one string, or a list of one to four strings."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            return value
        if (
            isinstance(value, list)
            and 1 <= len(value) <= 4
            and all(isinstance(item, str) for item in value)
        ):
            return value
        raise ValidationError("must be a string or a list of 1 to 4 strings")


class ToolChoiceField(fields.Field[Any]):
    """``tool_choice``: ``none``, ``auto``, ``required`` or an object naming a tool."""

    #: What a function choice lacks when it does not name its function.
    unnamed_function = 'a function choice needs "function": {"name": ...}'

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if value in ("none", "auto", "required"):
            return value
        if isinstance(value, dict) and isinstance(value.get("type"), str):
            if value["type"] == "function" and not isinstance(self.function_name(value), str):
                raise ValidationError(self.unnamed_function)
            return value
        raise ValidationError('must be "none", "auto", "required" or a tool choice object')

    def function_name(self, choice: dict[str, Any]) -> Any:
        """The name a function choice gives: ``{"function": {"name": …}}`` in chat."""
        function = choice.get("function")
        return function.get("name") if isinstance(function, dict) else None


def _check_messages(messages: list[Any]) -> None:
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ValidationError(f"message {index} must be an object with a role")
        if message["role"] == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise ValidationError(f"message {index}: a tool message needs a tool_call_id")


def _check_tools(tools: list[Any]) -> None:
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise ValidationError(f"tool {index} must be an object with a type")
        if tool["type"] == "function":
            function = tool.get("function")
            if not isinstance(function, dict) or not _FUNCTION_NAME.match(
                str(function.get("name") or "")
            ):
                raise ValidationError(f"tool {index} needs a function with a valid name")
            if "parameters" in function:
                check_json_schema(function["parameters"], f"tool {index}'s parameters")


def _penalty() -> StrictFloat:
    return StrictFloat(allow_none=True, validate=validate.Range(min=-2, max=2))


class ChatCompletionRequestSchema(Schema):
    """The known fields of a Chat Completions request body (others pass through)."""

    messages = fields.List(
        fields.Dict(),
        required=True,
        validate=[validate.Length(min=1, max=MAX_MESSAGES), _check_messages],
    )
    model = text(max_chars=200)
    frequency_penalty = _penalty()
    presence_penalty = _penalty()
    logit_bias = fields.Dict(
        keys=fields.Str(validate=validate.Regexp(r"^[0-9]+$")),
        values=StrictInteger(validate=validate.Range(min=-100, max=100)),
        allow_none=True,
    )
    logprobs = StrictBoolean(allow_none=True)
    top_logprobs = StrictInteger(allow_none=True, validate=validate.Range(min=0, max=20))
    max_tokens = StrictInteger(allow_none=True, validate=validate.Range(min=1))
    max_completion_tokens = StrictInteger(allow_none=True, validate=validate.Range(min=1))
    n = StrictInteger(allow_none=True, validate=validate.Range(min=1, max=128))
    stop = StopField(allow_none=True)
    seed = StrictInteger(allow_none=True)
    response_format = fields.Dict(validate=check_response_format)
    reasoning_effort = fields.Str(allow_none=True, validate=validate.OneOf(REASONING_EFFORTS))
    verbosity = fields.Str(allow_none=True, validate=validate.OneOf(VERBOSITIES))
    temperature = StrictFloat(allow_none=True, validate=validate.Range(min=0, max=2))
    top_p = StrictFloat(allow_none=True, validate=validate.Range(min=0, max=1))
    tools = fields.List(fields.Dict(), validate=[validate.Length(max=MAX_FUNCTIONS), _check_tools])
    tool_choice = ToolChoiceField()
    parallel_tool_calls = StrictBoolean()
    user = fields.Str(validate=validate.Length(max=256))
    # The result holds one whole response; a stream has nowhere to go.
    stream = refused_flag("streaming is not supported; leave stream out")


class ChatCompletionsAdvancedSchema(PayloadSchema):
    """A whole Chat Completions request, plus registered functions the worker runs."""

    request = WireObject(ChatCompletionRequestSchema, required=True)
    functions = functions_field()

    @validates_schema
    def _one_choice_when_running_functions(self, data: dict[str, Any], **kwargs: Any) -> None:
        # The tool loop follows one conversation; several choices would fork it.
        request = data.get("request") or {}
        if data.get("functions") and (request.get("n") or 1) > 1:
            raise ValidationError("n must be 1 when the worker runs functions", "request")
        refuse_declared_functions(
            data.get("functions"),
            {
                str((tool.get("function") or {}).get("name"))
                for tool in request.get("tools") or []
                if isinstance(tool, dict)
            },
        )
