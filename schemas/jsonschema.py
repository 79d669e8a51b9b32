"""Export a payload schema as JSON Schema (draft 2020-12), for producers in any language.

Covers the field types and validators these schemas use; an unknown field type is
exported as "any value" rather than guessed.
"""

from __future__ import annotations

from typing import Any

import marshmallow
from marshmallow import RAISE, Schema, fields, validate

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def to_json_schema(schema: type[Schema] | Schema, *, title: str | None = None) -> dict[str, Any]:
    """The JSON Schema document for ``schema``."""
    instance = schema() if isinstance(schema, type) else schema
    document = {"$schema": DRAFT, **_object(instance)}
    if title:
        document["title"] = title
    return document


def _object(schema: Schema) -> dict[str, Any]:
    properties = {}
    required = []
    for name, field in schema.fields.items():
        if field.dump_only:
            continue
        key = field.data_key or name
        properties[key] = _field(field)
        if field.required:
            required.append(key)
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    out["additionalProperties"] = schema.unknown != RAISE
    if schema.__doc__:
        out["description"] = " ".join(schema.__doc__.split())
    return out


def _field(field: fields.Field[Any]) -> dict[str, Any]:
    out: dict[str, Any]
    if isinstance(field, fields.Nested):
        nested = field.schema
        out = _object(nested)
        if getattr(field, "many", False):
            out = {"type": "array", "items": out}
    elif isinstance(field, fields.List):
        out = {"type": "array", "items": _field(field.inner)}
    elif isinstance(field, fields.Dict):
        out = {"type": "object"}
        wire = getattr(field, "wire_schema", None)
        if wire is not None:
            out = _object(wire(unknown="include"))
            out["additionalProperties"] = True
    elif isinstance(field, fields.Boolean):
        out = {"type": "boolean"}
    elif isinstance(field, fields.Integer):
        out = {"type": "integer"}
    elif isinstance(field, fields.Number):
        out = {"type": "number"}
    elif isinstance(field, fields.String):
        out = {"type": "string"}
    else:
        # A custom field may describe itself; any other is exported as "any value".
        out = dict(getattr(field, "json_schema", {}))
    for validator in _validators(field):
        _apply(out, validator)
    default = field.load_default
    if default is not None and not callable(default) and default is not marshmallow.missing:
        out["default"] = default
    if field.allow_none and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _validators(field: fields.Field[Any]) -> list[Any]:
    return list(getattr(field, "validators", []) or [])


def _apply(out: dict[str, Any], validator: Any) -> None:
    kind = out.get("type")
    if isinstance(validator, validate.Length):
        low, high = ("minItems", "maxItems") if kind == "array" else ("minLength", "maxLength")
        if kind == "object":
            low, high = "minProperties", "maxProperties"
        if validator.min is not None:
            out[low] = validator.min
        if validator.max is not None:
            out[high] = validator.max
        if validator.equal is not None:
            out[low] = out[high] = validator.equal
    elif isinstance(validator, validate.Range):
        if validator.min is not None:
            out["minimum" if validator.min_inclusive else "exclusiveMinimum"] = validator.min
        if validator.max is not None:
            out["maximum" if validator.max_inclusive else "exclusiveMaximum"] = validator.max
    elif isinstance(validator, validate.OneOf):
        out["enum"] = list(validator.choices)
    elif isinstance(validator, validate.Regexp):
        out["pattern"] = validator.regex.pattern
