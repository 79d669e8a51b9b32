"""Fetching a generated image from the URL an Images answer gives (it expires soon).

Only https, or the configuration's own host (a local or private endpoint), is fetched;
no auth header is sent (the URL itself grants access), redirects are not followed, and
the body is read in pieces up to ``MAX_IMAGE_BYTES`` within one timeout.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import requests

from worker.errors import ProviderError, TransportError
from worker.transport import HttpClient

MAX_IMAGE_BYTES = 20 * 1024 * 1024
DOWNLOAD_TIMEOUT_S = 60.0
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


def check_download_url(url: str, endpoint: str) -> None:
    """Refuse anything but https, unless the URL is on the configuration's own host."""
    parts, own = urlsplit(url), urlsplit(endpoint)
    if parts.scheme == "https" and parts.hostname:
        return
    same_host = parts.scheme in ("http", "https") and parts.netloc == own.netloc
    if not same_host:
        raise ProviderError(
            "the image URL in the answer is not https (nor on the configuration's host); "
            "not downloaded"
        )


def download_image(
    http: HttpClient,
    url: str,
    *,
    max_bytes: int | None = None,
    timeout_s: float | None = None,
) -> tuple[bytes, str | None]:
    """The image's bytes and the media type its ``Content-Type`` gives, if an image one."""
    max_bytes = MAX_IMAGE_BYTES if max_bytes is None else max_bytes
    timeout_s = DOWNLOAD_TIMEOUT_S if timeout_s is None else timeout_s
    host = urlsplit(url).netloc
    deadline = time.monotonic() + timeout_s
    try:
        with http.session.get(
            url,
            stream=True,
            timeout=(http.connect_timeout_s, timeout_s),
            allow_redirects=False,
            headers={"Accept": "image/*"},
        ) as response:
            if response.status_code != 200:
                raise ProviderError(
                    f"downloading the generated image failed: HTTP {response.status_code}",
                    status_code=response.status_code,
                )
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > max_bytes:
                raise ProviderError(f"the generated image is larger than {max_bytes} bytes")
            content = bytearray()
            for piece in response.iter_content(chunk_size=64 * 1024):
                content.extend(piece)
                if len(content) > max_bytes:
                    raise ProviderError(f"the generated image is larger than {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise requests.Timeout()
            media_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
    except requests.Timeout:
        raise TransportError(
            f"downloading the generated image from {host} took longer than {timeout_s:g} s"
        ) from None
    except requests.RequestException as exc:
        raise TransportError(
            f"downloading the generated image from {host} failed: {type(exc).__name__}"
        ) from None
    return bytes(content), (media_type if media_type.startswith("image/") else None)
