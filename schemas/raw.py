"""Payload of ``raw_request``: any call below the configuration's endpoint.

The path is checked here for its shape (relative, no scheme, no ``//``, no ``..``,
no ``@``, no query or fragment); the worker checks again that the URL it builds stays
on the configuration's host and under its base path. Headers that carry identity are
the worker's alone, so a payload that sets one is refused rather than silently changed.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import unquote

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from schemas.common import (
    PayloadSchema,
    StrictBoolean,
    StrictFloat,
    StrictInteger,
    plain_json,
    text,
)

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
RESPONSE_TYPES = ["json", "text", "binary"]
#: Headers the worker sets itself (auth, identity, framing) and the hop-by-hop ones of
#: RFC 9110 §7.6.1; a payload may not set them.
RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "api-key",
        "openai-organization",
        "openai-project",
        "cookie",
        "host",
        "proxy-authorization",
        "proxy-authenticate",
        "proxy-connection",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "expect",
    }
)
MAX_RETRIES = 10
MAX_FILE_BYTES = 25 * 1024 * 1024
#: RFC 9110 §5.6.2: a header name is a token.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
#: RFC 9110 §5.5 field values, restricted to visible ASCII with inner spaces and tabs.
_HEADER_VALUE = re.compile(r"^(?:[\x21-\x7e](?:[\x20\x09\x21-\x7e]{0,8190}[\x21-\x7e])?)?$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a plain relative path, or None when it is."""
    decoded = unquote(path)
    if any(ord(c) < 0x21 or c == "\x7f" for c in decoded):
        return "must not contain spaces or control characters"
    if _SCHEME.match(decoded) or "//" in decoded:
        return "must be relative to the configuration's endpoint, not a URL"
    if "\\" in decoded or "@" in decoded:
        return "must not contain '\\' or '@'"
    if "?" in path or "#" in path:
        return "must not contain '?' or '#'; put query parameters in `query`"
    if any(segment in (".", "..") for segment in decoded.split("/")):
        return "must not contain '.' or '..' segments"
    return None


class RetryOptionsSchema(Schema):
    """The connector's retry options: count, delay, backoff, and whether 4xx retry too."""

    class Meta:
        unknown = RAISE

    max_retries = StrictInteger(load_default=0, validate=validate.Range(min=0, max=MAX_RETRIES))
    delay_ms = StrictInteger(load_default=0, validate=validate.Range(min=0, max=600_000))
    exponential_backoff = StrictBoolean(load_default=False)
    retry_on_all_errors = StrictBoolean(load_default=False)


class FileSchema(Schema):
    """One file of a multipart form, its content base64-encoded."""

    class Meta:
        unknown = RAISE

    field = text(required=True, max_chars=200)
    filename = text(required=True, max_chars=255)
    content_base64 = fields.Str(required=True)
    content_type = text(load_default="application/octet-stream", max_chars=200)

    @validates("content_base64")
    def _is_base64(self, value: str, **kwargs: Any) -> None:
        if len(value) > MAX_FILE_BYTES * 4 // 3 + 4:
            raise ValidationError(f"a file may hold at most {MAX_FILE_BYTES} bytes")
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("must be base64") from None


class RawRequestSchema(PayloadSchema):
    """Any request below the configuration's endpoint, sent with the worker's auth."""

    method = fields.Str(load_default="GET", validate=validate.OneOf(METHODS))
    path = text(required=True, max_chars=2000)
    query = fields.Dict(keys=fields.Str(), values=fields.Str())
    headers = fields.Dict(keys=fields.Str(), values=fields.Str())
    json = fields.Raw(allow_none=True, validate=plain_json)
    form = fields.Dict(keys=fields.Str(), values=fields.Str())
    files = fields.List(fields.Nested(FileSchema), validate=validate.Length(min=1, max=20))
    response_type = fields.Str(load_default="json", validate=validate.OneOf(RESPONSE_TYPES))
    timeout_s = StrictFloat(validate=validate.Range(min=0.1, max=3600))
    retry = fields.Nested(RetryOptionsSchema)

    @validates("path")
    def _relative_path(self, value: str, **kwargs: Any) -> None:
        problem = path_problem(value)
        if problem:
            raise ValidationError(problem)

    @validates("headers")
    def _no_reserved_headers(self, value: dict[str, str], **kwargs: Any) -> None:
        for name, header_value in value.items():
            if not _HEADER_NAME.match(name):
                raise ValidationError(f"{name!r} is not a valid header name")
            if not _HEADER_VALUE.match(header_value):
                raise ValidationError(
                    f"the value of {name!r} must be visible ASCII, with spaces only inside"
                )
            if name.lower() in RESERVED_HEADERS:
                raise ValidationError(
                    f"{name} is set by the worker (authentication comes from the "
                    "configuration); remove it from the payload"
                )

    @validates_schema
    def _one_kind_of_body(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "json" in data and ("form" in data or "files" in data):
            raise ValidationError("send either `json` or `form`/`files`, not both", "json")
        if "form" in data or "files" in data:
            names = {name.lower() for name in data.get("headers") or {}}
            if "content-type" in names:
                raise ValidationError(
                    "leave Content-Type out with `form`/`files`: the multipart boundary "
                    "is set by the worker",
                    "headers",
                )
