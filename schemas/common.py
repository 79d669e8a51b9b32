"""Fields and a base schema shared by every operation's payload.

Every payload schema refuses unknown fields, type mismatches and out-of-range values.
Numbers are strict: ``"1"`` is not an integer and NaN is not a temperature.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from marshmallow import RAISE, Schema, ValidationError, fields, validate

#: Longest string any single text field takes (a long document for a summary fits).
MAX_TEXT_CHARS = 1_000_000
#: How deeply a pass-through JSON value may nest; real requests stay far below.
MAX_DEPTH = 32
#: The longest ``callback_url`` taken (what servers and proxies commonly accept).
MAX_URL_CHARS = 2048


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


def callback_url_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a webhook's URL, or None when it can: an absolute http(s)
    URL naming a host, in ASCII, without spaces or credentials, of at most
    ``MAX_URL_CHARS``. (Where it may point is the worker's check, at delivery.)"""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_URL_CHARS:
        return f"must be a URL of 1 to {MAX_URL_CHARS} characters"
    if not value.isascii() or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value):
        return "must be ASCII without spaces (percent-encode the path, punycode the host)"
    try:
        parts = urlsplit(value)
        port = parts.port  # a port that is not a number raises here
    except ValueError:
        return "is not a well-formed URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http:// or https:// URL naming a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials (user:password@)"
    if port == 0:
        return "must not name port 0"
    return None


def _callback_url(value: str) -> None:
    # Its length is the ``Length`` validator's to report (and to export as JSON Schema).
    problem = callback_url_problem(value) if 0 < len(value) <= MAX_URL_CHARS else None
    if problem is not None:
        raise ValidationError(problem)


class PayloadSchema(Schema):
    """Base of every payload: the configuration's name, an optional idempotency key and an
    optional URL that gets the final record as a signed webhook."""

    class Meta:
        unknown = RAISE

    configuration = text(required=True, max_chars=200)
    idempotency_key = text(max_chars=200)
    callback_url = fields.Str(validate=[validate.Length(min=1, max=MAX_URL_CHARS), _callback_url])


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
    "MAX_URL_CHARS",
    "PayloadSchema",
    "StrictBoolean",
    "StrictFloat",
    "StrictInteger",
    "ValidationError",
    "WireObject",
    "callback_url_problem",
    "refused_flag",
    "text",
]
