"""Fetching a URL a provider's answer names (a generated image), only where it is safe.

The URL comes from outside, so it is treated as hostile: only ``https`` (or the
configuration's own endpoint host), and the host is resolved first and refused when it
resolves to a loopback, private, link-local, multicast or otherwise non-global address
(IPv4 and IPv6, mapped forms included) unless it is the configuration's own endpoint.
The connection is made to the very address that was checked (no second lookup), with
the certificate checked for the URL's host name. No proxy, ``.netrc``, cookie or auth
header is ever involved; redirects are not followed. One deadline covers the whole
download, enforced on every read of the socket, so a sender trickling a byte a minute
is cut off.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from worker.errors import ProviderError, TransportError

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Download:
    """What came back: the body and the media type its ``Content-Type`` declares."""

    content: bytes
    content_type: str | None


def blocked(address: str) -> bool:
    """Whether ``address`` is one the worker must not be made to connect to."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_multicast or not ip.is_global


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
    address = _resolve(host, port)
    if not is_own and blocked(address):
        raise ProviderError(
            f"the URL in the answer points at {host}, a loopback, private or reserved "
            "address; not downloaded"
        )
    pinned = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    connection = pinned(host, address, port, connect_timeout_s, time.monotonic() + deadline_s)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", target, headers={"Host": parts.netloc, "Accept": accept})
        response = connection.getresponse()
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
    except _DeadlinePassed:
        raise TransportError(f"downloading from {host} took longer than {deadline_s:g} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise TransportError(f"downloading from {host} failed: {type(exc).__name__}") from exc
    finally:
        connection.close()
    if declared and len(content) < declared:
        raise TransportError(f"downloading from {host} ended before the whole body came")
    return Download(bytes(content), content_type or None)


def _resolve(host: str, port: int) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TransportError(f"the host {host} of the URL in the answer does not resolve") from None
    if not infos:
        raise TransportError(f"the host {host} of the URL in the answer does not resolve")
    return str(infos[0][4][0])


class _DeadlinePassed(Exception):  # noqa: N818 - a signal inside this module
    """The download's one deadline passed."""


class _DeadlineReader(io.RawIOBase):
    """Reads a socket, each read given only the time left before the deadline.

    Every byte the response is read from (status line, headers, body) comes through
    here, so a sender trickling bytes cannot stretch the download past its deadline.
    """

    def __init__(self, owner: _DeadlineSocket) -> None:
        super().__init__()
        self.owner = owner
        self.sock, self.connection = owner.sock, owner.connection

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self.owner.release()
        super().close()

    def readinto(self, buffer: Any) -> int:
        remaining = self.connection.deadline - time.monotonic()
        if remaining <= 0:
            raise _DeadlinePassed
        self.sock.settimeout(remaining)
        try:
            return self.sock.recv_into(buffer)
        except TimeoutError:
            raise _DeadlinePassed from None


class _DeadlineSocket:
    """The socket as ``http.client`` sees it: sending as usual, reading by deadline.

    As with a real socket's files, closing it while a response still reads from it
    only takes effect once that reader is closed too.
    """

    def __init__(self, sock: socket.socket, connection: _PinnedHTTP) -> None:
        self.sock, self.connection = sock, connection
        self.readers, self.closing = 0, False

    def sendall(self, data: Any) -> None:
        remaining = self.connection.deadline - time.monotonic()
        if remaining <= 0:
            raise _DeadlinePassed
        self.sock.settimeout(remaining)
        self.sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        self.readers += 1
        return io.BufferedReader(_DeadlineReader(self))

    def release(self) -> None:
        self.readers -= 1
        if self.closing and self.readers == 0:
            self.sock.close()

    def close(self) -> None:
        self.closing = True
        if self.readers == 0:
            self.sock.close()


class _PinnedHTTP(http.client.HTTPConnection):
    """A connection to the checked address, whatever the host name resolves to later."""

    def __init__(self, host: str, address: str, port: int, timeout: float, deadline: float) -> None:
        super().__init__(host, port, timeout=timeout)
        #: When the whole download must be done (``time.monotonic``).
        self.address, self.deadline = address, deadline

    def connect(self) -> None:
        self.sock = _DeadlineSocket(self._open(), self)

    def _open(self) -> socket.socket:
        return socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(_PinnedHTTP):
    """TLS to the checked address, the certificate checked for the URL's host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float, deadline: float) -> None:
        super().__init__(host, address, port, timeout, deadline)
        self.context = ssl.create_default_context()

    def _open(self) -> socket.socket:
        return self.context.wrap_socket(super()._open(), server_hostname=self.host)
