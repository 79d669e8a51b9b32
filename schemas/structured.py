"""Structured outputs: ``response_format`` objects, and JSON Schemas checked before any call.

A ``json_schema`` format's ``schema`` (and a function's ``parameters``) must be a valid
JSON Schema (draft 2020-12, checked with ``jsonschema``), so a typo costs a validation
error at submission instead of a paid call the provider refuses.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from marshmallow import ValidationError, fields

from schemas.common import plain_json

#: The ``response_format`` types of the Chat Completions API.
FORMAT_TYPES = ("text", "json_object", "json_schema")
#: Formats whose answer is JSON, parsed into ``assistant_response_json``.
JSON_FORMATS = ("json_object", "json_schema")
_FORMAT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_JSON_SCHEMA_KEYS = frozenset({"name", "schema", "strict", "description"})


def check_json_schema(schema: Any, where: str) -> None:
    """Refuse anything that is not a valid JSON Schema object, saying what is wrong."""
    if not isinstance(schema, dict):
        raise ValidationError(f"{where} must be a JSON Schema object")
    plain_json(schema)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        path = "/".join(str(part) for part in exc.absolute_path)
        raise ValidationError(
            f"{where} is not a valid JSON Schema: {exc.message}" + (f" (at {path})" if path else "")
        ) from None


def check_response_format(value: Any) -> dict[str, Any]:
    """A ``response_format`` object as the Chat Completions API takes it, checked."""
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise ValidationError('must be an object with a "type" such as "json_object"')
    kind = value["type"]
    if kind != "json_schema":
        return value
    spec = value.get("json_schema")
    if not isinstance(spec, dict):
        raise ValidationError('a json_schema format needs "json_schema": {"name", "schema", …}')
    unknown = sorted(set(spec) - _JSON_SCHEMA_KEYS)
    if unknown:
        raise ValidationError("json_schema has unknown fields: " + ", ".join(unknown))
    if not isinstance(spec.get("name"), str) or not _FORMAT_NAME.match(spec["name"]):
        raise ValidationError(
            "json_schema.name is required: 1-64 letters, digits, underscores or dashes"
        )
    if "strict" in spec and spec["strict"] is not None and not isinstance(spec["strict"], bool):
        raise ValidationError("json_schema.strict must be true or false")
    if "description" in spec and not isinstance(spec["description"], str):
        raise ValidationError("json_schema.description must be a string")
    if "schema" in spec:
        check_json_schema(spec["schema"], "json_schema.schema")
    return value


class ResponseFormatField(fields.Field[Any]):
    """The simple operations' ``response_format``: ``"text"``, ``"json_object"`` or an object.

    Loaded as the wire object: ``"json_object"`` becomes ``{"type": "json_object"}``.
    """

    #: How ``schemas.jsonschema`` exports this field.
    json_schema: dict[str, Any] = {
        "anyOf": [
            {"type": "string", "enum": ["text", "json_object"]},
            {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "enum": list(FORMAT_TYPES)},
                    "json_schema": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "pattern": _FORMAT_NAME.pattern},
                            "description": {"type": "string"},
                            "schema": {"type": "object"},
                            "strict": {"type": ["boolean", "null"]},
                        },
                        "required": ["name"],
                        "additionalProperties": False,
                    },
                },
                "required": ["type"],
                "additionalProperties": False,
            },
        ]
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            if value not in ("text", "json_object"):
                raise ValidationError(
                    'must be "text", "json_object" or a {"type": "json_schema", …} object'
                )
            return {"type": value}
        value = check_response_format(value)
        if value["type"] not in FORMAT_TYPES or set(value) - {"type", "json_schema"}:
            raise ValidationError(
                'must be {"type": "text"}, {"type": "json_object"} or '
                '{"type": "json_schema", "json_schema": {…}}'
            )
        return value
