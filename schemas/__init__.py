"""Marshmallow schemas for every operation's payload; no import of ``worker``."""

from schemas.chat import ChatCompletionsWithoutHistorySchema, ConfigurationTestSchema
from schemas.common import PayloadSchema
from schemas.jsonschema import to_json_schema

__all__ = [
    "ChatCompletionsWithoutHistorySchema",
    "ConfigurationTestSchema",
    "PayloadSchema",
    "to_json_schema",
]
