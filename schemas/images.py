"""Payloads of the image generation operations.

Values follow the Images API (``CreateImageRequest``): the DALL·E models and the GPT
image models take different sizes and qualities, so only the shapes are checked here
and the provider decides which combinations a model accepts — with one exception the
API documents for every release: ``dall-e-3`` makes one image per request.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from schemas.common import PayloadSchema, StrictBoolean, StrictInteger, WireObject, text

#: The longest prompt any image model takes (GPT image models; DALL·E takes fewer).
MAX_PROMPT_CHARS = 32_000
QUALITIES = ["standard", "hd", "low", "medium", "high", "auto"]
RESPONSE_FORMATS = ["url", "b64_json"]
STYLES = ["vivid", "natural"]
# "auto" or WIDTHxHEIGHT (the GPT image models accept arbitrary multiples of 16).
_SIZE = r"^(auto|[1-9][0-9]{1,4}x[1-9][0-9]{1,4})$"


def _size_field() -> fields.Str:
    return fields.Str(validate=validate.Regexp(_SIZE, error="must be auto or WIDTHxHEIGHT"))


class ImageGenerationsSingleSchema(PayloadSchema):
    """One image from a prompt; the output always carries the image bytes."""

    prompt = text(required=True, max_chars=MAX_PROMPT_CHARS)
    model = text(max_chars=200)
    size = _size_field()
    quality = fields.Str(validate=validate.OneOf(QUALITIES))
    style = fields.Str(validate=validate.OneOf(STYLES))
    response_format = fields.Str(validate=validate.OneOf(RESPONSE_FORMATS))
    user = text(max_chars=256)


class ImagesRequestSchema(Schema):
    """The known fields of an Images request body; others pass through unchanged."""

    class Meta:
        unknown = RAISE

    prompt = text(required=True, max_chars=MAX_PROMPT_CHARS)
    model = text(max_chars=200)
    n = StrictInteger(validate=validate.Range(min=1, max=10))
    quality = fields.Str(validate=validate.OneOf(QUALITIES))
    response_format = fields.Str(validate=validate.OneOf(RESPONSE_FORMATS))
    size = _size_field()
    style = fields.Str(validate=validate.OneOf(STYLES))
    user = text(max_chars=256)
    output_format = fields.Str(validate=validate.OneOf(["png", "jpeg", "webp"]))
    output_compression = StrictInteger(validate=validate.Range(min=0, max=100))
    background = fields.Str(validate=validate.OneOf(["transparent", "opaque", "auto"]))
    moderation = fields.Str(validate=validate.OneOf(["low", "auto"]))
    # Streaming answers are server-sent events, which a job cannot return as one result.
    stream = StrictBoolean(validate=validate.Equal(False, error="streaming is not supported"))

    @validates_schema
    def _dall_e_3_makes_one_image(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("model") == "dall-e-3" and data.get("n", 1) != 1:
            raise ValidationError("dall-e-3 supports only n=1", "n")


class ImageGenerationsAdvancedSchema(PayloadSchema):
    """A whole Images request body; the output is the whole response."""

    request = WireObject(ImagesRequestSchema, required=True)
