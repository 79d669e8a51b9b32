"""Fetching a URL a provider's answer names (a generated image), only where it is safe.

The URL comes from outside, so it is treated as hostile: only ``https`` (or the
configuration's own endpoint host), and the host is resolved first and refused when it
resolves to a loopback, private, link-local, multicast or otherwise non-global address
unless it is the configuration's own endpoint; the connection goes to the very address
checked, within one deadline (``pinned``). No proxy, ``.netrc``, cookie or auth header is
ever involved; redirects are not followed.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import urlsplit

from worker.errors import ProviderError, TransportError
from worker.transport.pinned import DeadlinePassed, blocked, connection, resolve
from worker.turns import TURNS

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Download:
    """What came back: the body and the media type its ``Content-Type`` declares."""

    content: bytes
    content_type: str | None


@TURNS.away()
def fetch(
    url: str,
    *,
    endpoint: str,
    max_bytes: int,
    deadline_s: float,
    connect_timeout_s: float,
    accept: str = "*/*",
) -> Download:
    """GET ``url`` within the rules above; ``ProviderError`` when it may not be fetched."""
    parts, own = urlsplit(url), urlsplit(endpoint)
    host, scheme = parts.hostname, parts.scheme
    is_own = scheme in ("http", "https") and parts.netloc == own.netloc and host is not None
    if host is None or not (scheme == "https" or is_own):
        raise ProviderError(
            "the URL in the answer is not https (nor on the configuration's host); not downloaded"
        )
    port = parts.port or (443 if scheme == "https" else 80)
    address = resolve(host, port)
    if address is None:
        raise TransportError(f"the host {host} of the URL in the answer does not resolve")
    if not is_own and blocked(address):
        raise ProviderError(
            f"the URL in the answer points at {host}, a loopback, private or reserved "
            "address; not downloaded"
        )
    connected = connection(scheme, host, address, port, connect_timeout_s, deadline_s)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connected.request("GET", target, headers={"Host": parts.netloc, "Accept": accept})
        response = connected.getresponse()
        if response.status != 200:
            raise ProviderError(
                f"downloading from {host} failed: HTTP {response.status}",
                status_code=response.status,
            )
        declared = int(response.getheader("Content-Length") or 0)
        if declared > max_bytes:
            raise ProviderError(f"the download is larger than {max_bytes} bytes")
        content = bytearray()
        while chunk := response.read(_CHUNK):
            content.extend(chunk)
            if len(content) > max_bytes:
                raise ProviderError(f"the download is larger than {max_bytes} bytes")
        content_type = (response.getheader("Content-Type") or "").split(";")[0].strip()
    except DeadlinePassed:
        raise TransportError(f"downloading from {host} took longer than {deadline_s:g} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise TransportError(f"downloading from {host} failed: {type(exc).__name__}") from exc
    finally:
        connected.close()
    if declared and len(content) < declared:
        raise TransportError(f"downloading from {host} ended before the whole body came")
    return Download(bytes(content), content_type or None)


__all__ = ["Download", "blocked", "fetch"]
