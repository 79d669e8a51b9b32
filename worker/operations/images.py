"""The image generation operations: one image with its bytes, or a whole request.

A ``url`` answer is downloaded at once (such URLs expire after an hour), so the output
always carries the image. A download that fails does not make the job retry: that would
generate, and bill, a new image; the error names the URL so the caller can still fetch
it while it lasts.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from worker.catalog import CATALOG
from worker.errors import ProviderError, WorkerError
from worker.operations._image_download import download_image, sniff_media_type
from worker.operations.base import JobContext, Operation, Outcome

IMAGES_PATH = "images/generations"
#: Without a ``model`` OpenAI uses dall-e-2, as the API documents; Azure's deployment decides.
_SINGLE_FIELDS = ("model", "size", "quality", "style", "response_format", "user")


def _first_image(response: dict[str, Any]) -> dict[str, Any]:
    data = response.get("data")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise ProviderError("the images answer holds no image")
    return data[0]


def _from_base64(encoded: Any) -> tuple[str, str]:
    """The base64 text as given and the media type its first bytes announce."""
    if not isinstance(encoded, str) or not encoded:
        raise ProviderError("the image in the answer has neither b64_json nor url")
    try:
        head = base64.b64decode(encoded[:64], validate=True)
    except (binascii.Error, ValueError):
        raise ProviderError("the image's b64_json in the answer is not base64") from None
    return encoded, sniff_media_type(head) or "image/png"


def _from_url(ctx: JobContext, url: str) -> tuple[str, str]:
    """Download the image; on failure, say where it is so the caller can fetch it."""
    try:
        content, media_type = download_image(
            ctx.http,
            url,
            endpoint=ctx.client.provider.base_url,
            deadline_s=ctx.settings.download_timeout_s,
        )
    except WorkerError as exc:
        exc.retryable = False
        exc.details = {**(exc.details or {}), "image_url": url}
        raise
    return base64.b64encode(content).decode("ascii"), media_type


def image_generations_single(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """One image from a prompt: its bytes (base64), media type and revised prompt."""
    body: dict[str, Any] = {"prompt": payload["prompt"]}
    body.update({name: payload[name] for name in _SINGLE_FIELDS if name in payload})
    response = ctx.calls.answer("call", lambda: ctx.client.post_json(IMAGES_PATH, body))
    image = _first_image(response)
    if image.get("b64_json"):
        encoded, media_type = _from_base64(image["b64_json"])
    elif isinstance(image.get("url"), str) and image["url"]:
        encoded, media_type = _from_url(ctx, image["url"])
    else:
        raise ProviderError("the image in the answer has neither b64_json nor url")
    output = {
        "image_base64": encoded,
        "media_type": media_type,
        "revised_prompt": image.get("revised_prompt"),
    }
    return Outcome(output, response.get("usage"))


def image_generations_advanced(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """A whole Images request as given; the whole answer back (URLs are not fetched)."""
    request = payload["request"]
    response = ctx.calls.answer("call", lambda: ctx.client.post_json(IMAGES_PATH, request))
    return Outcome(response, response.get("usage"))


OPERATIONS = [
    Operation(CATALOG["image_generations_single"], image_generations_single),
    Operation(CATALOG["image_generations_advanced"], image_generations_advanced),
]
