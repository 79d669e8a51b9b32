"""Fetching a generated image from the URL an Images answer gives (it expires soon).

The URL is fetched by the transport's safe downloader (https or the configuration's own
host, never a private or loopback address, one deadline, no credentials); what comes
back must be an image by its first bytes.
"""

from __future__ import annotations

from worker.errors import ProviderError
from worker.transport import HttpClient

MAX_IMAGE_BYTES = 20 * 1024 * 1024
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
)


def sniff_media_type(head: bytes) -> str | None:
    """The image type its first bytes announce (PNG, JPEG, WebP, GIF), if any."""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def download_image(
    http: HttpClient, url: str, *, endpoint: str, deadline_s: float, max_bytes: int | None = None
) -> tuple[bytes, str]:
    """The image's bytes and its media type, read from its first bytes."""
    download = http.download(
        url,
        endpoint=endpoint,
        max_bytes=MAX_IMAGE_BYTES if max_bytes is None else max_bytes,
        deadline_s=deadline_s,
        accept="image/*",
    )
    media_type = sniff_media_type(download.content[:16])
    if media_type is None:
        raise ProviderError("the download is not an image (PNG, JPEG, WebP or GIF)")
    return download.content, media_type
