"""Payloads of the embeddings operations.

``embeddings_list_input`` takes any number of chunks up to ``MAX_CHUNKS``; the worker
splits them into requests the API accepts. The bound keeps one job's result (every
vector, as JSON, stored in parts in Redis) and the worker's memory within reason; the
worker also caps chunks × dimensions. The README gives the measured figures behind both.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from schemas.common import PayloadSchema, StrictInteger, WireObject, text

#: Most chunks one ``embeddings_list_input`` job takes (see the README's measurements).
MAX_CHUNKS = 100_000
#: Most inputs one Embeddings request takes (the API's limit).
MAX_INPUTS_PER_REQUEST = 2048
#: Longest single input in characters: far above any model's token limit, which the
#: worker checks separately (by token count) and names the offending chunk.
MAX_INPUT_CHARS = 200_000
ENCODING_FORMATS = ["float", "base64"]


def _encoding_format() -> fields.Str:
    return fields.Str(load_default="float", validate=validate.OneOf(ENCODING_FORMATS))


def _dimensions() -> StrictInteger:
    return StrictInteger(validate=validate.Range(min=1, max=100_000))


class EmbeddingOptionsSchema(PayloadSchema):
    """Options shared by the simple embeddings operations."""

    model = text(max_chars=200)
    encoding_format = _encoding_format()
    dimensions = _dimensions()
    user = text(max_chars=256)


class EmbeddingsSingleInputSchema(EmbeddingOptionsSchema):
    """One text; the output is its vector."""

    input = text(required=True, max_chars=MAX_INPUT_CHARS)


class ChunkSchema(Schema):
    """One text to embed and the caller's key for it (any JSON value), returned as given."""

    class Meta:
        unknown = RAISE

    input = text(required=True, max_chars=MAX_INPUT_CHARS)
    key = fields.Raw(allow_none=True, load_default=None)


class EmbeddingsListInputSchema(EmbeddingOptionsSchema):
    """Any number of chunks (up to ``MAX_CHUNKS``); vectors come back in input order."""

    chunks = fields.List(
        fields.Nested(ChunkSchema), required=True, validate=validate.Length(min=1, max=MAX_CHUNKS)
    )


class _EmbeddingInput(fields.Field[Any]):
    """A string, or a list (1–2048) of strings, of token ids, or of token id lists."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            if not value:
                raise ValidationError("must not be empty")
            return value
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_INPUTS_PER_REQUEST:
            raise ValidationError(
                f"must be a string or a list of 1 to {MAX_INPUTS_PER_REQUEST} items"
            )
        if all(isinstance(item, str) and item for item in value):
            return value
        if all(_is_token(item) for item in value):
            return value
        if all(
            isinstance(item, list) and item and all(_is_token(t) for t in item) for item in value
        ):
            return value
        raise ValidationError(
            "a list input must hold only non-empty strings, only token ids, "
            "or only non-empty lists of token ids"
        )


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class EmbeddingsRequestSchema(Schema):
    """The known fields of an Embeddings request body; others pass through unchanged."""

    class Meta:
        unknown = RAISE

    input = _EmbeddingInput(required=True)
    model = text(max_chars=200)
    encoding_format = fields.Str(validate=validate.OneOf(ENCODING_FORMATS))
    dimensions = _dimensions()
    user = text(max_chars=256)


class EmbeddingsAdvancedSchema(PayloadSchema):
    """A whole Embeddings request body; the output is the whole response."""

    request = WireObject(EmbeddingsRequestSchema, required=True)
