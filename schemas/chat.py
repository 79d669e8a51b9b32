"""Payloads of the chat operations."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.common import PayloadSchema, StrictFloat, StrictInteger, text

#: The Chat Completions API takes at most this many tools in one request.
MAX_FUNCTIONS = 128
_DATA_URL = re.compile(r"^data:image/[A-Za-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+$")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ImageSchema(Schema):
    """An image for vision: an https URL or a base64 data URL, and a detail level."""

    url = fields.Str(required=True, validate=validate.Length(min=1, max=30_000_000))
    detail = fields.Str(load_default="auto", validate=validate.OneOf(["auto", "low", "high"]))

    @validates_schema
    def _url_kind(self, data: dict[str, Any], **kwargs: Any) -> None:
        url = data.get("url", "")
        if not (url.startswith("https://") or _DATA_URL.match(url[:200] + url[-50:])):
            raise ValidationError(
                "must be an https:// URL or a data:image/...;base64,... URL", "url"
            )


class FunctionRefSchema(Schema):
    """Picks a function registered with the worker, by name."""

    name = fields.Str(required=True, validate=validate.Regexp(_FUNCTION_NAME))
    description = fields.Str(validate=validate.Length(max=4096))


def functions_field() -> fields.List[Any]:
    return fields.List(
        fields.Nested(FunctionRefSchema), validate=validate.Length(min=1, max=MAX_FUNCTIONS)
    )


def tool_choice_field() -> fields.Str:
    """``auto``, ``none``, ``required`` or a function's name (checked against ``functions``)."""
    return fields.Str(validate=validate.Regexp(_FUNCTION_NAME))


class ChatOptionsSchema(PayloadSchema):
    """Options every simple chat operation shares."""

    model = text(max_chars=200)
    response_format = fields.Str(validate=validate.OneOf(["text", "json_object"]))
    temperature = StrictFloat(validate=validate.Range(min=0, max=2))
    max_tokens = StrictInteger(validate=validate.Range(min=1, max=1_000_000))
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
        if data.get("response_format") != "json_object":
            return
        texts = [data.get(k) or "" for k in ("user_prompt", "system_prompt")]
        texts += [m.get("content") or "" for m in data.get("messages") or []]
        if not any("json" in str(t).lower() for t in texts):
            raise ValidationError(
                "json_object needs the word JSON in a prompt or message (the API requires it)",
                "response_format",
            )


class ChatCompletionsWithoutHistorySchema(ChatOptionsSchema):
    """One user prompt, an optional system prompt, optional images."""

    user_prompt = text(required=True)
    system_prompt = text()
    images = fields.List(fields.Nested(ImageSchema), validate=validate.Length(min=1, max=50))


class ConfigurationTestSchema(PayloadSchema):
    """A tiny chat call that tells whether a configuration works."""

    model = text(max_chars=200)
    user_prompt = text(load_default="Hello! Please answer with one short sentence.")
