"""Fields and a base schema shared by every operation's payload.

Every payload schema refuses unknown fields, type mismatches and out-of-range values.
Numbers are strict: ``"1"`` is not an integer and NaN is not a temperature.
"""

from __future__ import annotations

import math
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

#: Longest string any single text field takes (a long document for a summary fits).
MAX_TEXT_CHARS = 1_000_000
#: How deeply a pass-through JSON value may nest; real requests stay far below.
MAX_DEPTH = 32


def encodable(value: str) -> None:
    """Refuse text that cannot be sent as UTF-8 (lone surrogates from broken producers)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("contains characters that are not valid Unicode") from None


def plain_json(value: Any, depth: int = 0) -> None:
    """Refuse values JSON cannot carry faithfully: NaN/Infinity, deep nesting, bad text."""
    if depth > MAX_DEPTH:
        raise ValidationError(f"is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError("contains NaN or Infinity, which JSON cannot carry")
    if isinstance(value, str):
        encodable(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError("has an object key that is not a string")
            encodable(key)
            plain_json(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            plain_json(item, depth + 1)


class StrictInteger(fields.Integer):
    """An integer that refuses booleans, floats and numeric strings."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return int(super()._validated(value))


class StrictFloat(fields.Float):
    """A finite number that refuses booleans and numeric strings."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_nan=False, **kwargs)

    def _validated(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return float(super()._validated(value))


class StrictBoolean(fields.Boolean):
    """Only ``true`` or ``false``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def text(*, required: bool = False, max_chars: int = MAX_TEXT_CHARS, **kwargs: Any) -> fields.Str:
    """A non-empty string field."""
    return fields.Str(
        required=required, validate=[validate.Length(min=1, max=max_chars), encodable], **kwargs
    )


class PayloadSchema(Schema):
    """Base of every payload: the configuration's name and an optional idempotency key."""

    class Meta:
        unknown = RAISE

    configuration = text(required=True, max_chars=200)
    idempotency_key = text(max_chars=200)


def refused_flag(error: str) -> StrictBoolean:
    """A request flag the worker cannot honour (``stream``): false or null only."""
    return StrictBoolean(allow_none=True, validate=validate.Equal(False, error=error))


class WireObject(fields.Dict):
    """A JSON object passed to the provider as given (the advanced operations' ``request``)."""

    def __init__(self, schema: type[Schema], **kwargs: Any) -> None:
        super().__init__(keys=fields.Str(), **kwargs)
        self.wire_schema = schema

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        obj = super()._deserialize(value, attr, data, **kwargs)  # type: ignore[no-untyped-call]
        plain_json(obj)
        # Validate the known fields; unknown ones pass through so new API parameters
        # work without a release.
        known = self.wire_schema(unknown="include").load(obj)
        return {**obj, **{k: v for k, v in known.items() if k in obj}}


__all__ = [
    "MAX_TEXT_CHARS",
    "PayloadSchema",
    "StrictBoolean",
    "StrictFloat",
    "StrictInteger",
    "ValidationError",
    "WireObject",
    "refused_flag",
    "text",
]
