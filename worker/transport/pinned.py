"""Connections to URLs that come from outside: checked addresses, pinned, one deadline.

What the image downloader and the webhook sender share. The host is resolved once and
its address judged (``blocked``: loopback, private, link-local, multicast or otherwise
not global, IPv4 and IPv6, mapped forms included); the connection then goes to that very
address (no second lookup a DNS answer could change), with a TLS certificate checked for
the URL's host name. One deadline covers the whole exchange, enforced on every send and
every read of the socket, so a peer trickling a byte a minute is cut off. No proxy,
``.netrc`` or cookie is ever involved, and nothing here follows a redirect.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import time
from typing import Any


def blocked(address: str) -> bool:
    """Whether ``address`` is one the worker must not be made to connect to."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_multicast or not ip.is_global


def resolve(host: str, port: int) -> str | None:
    """The address a connection to ``host`` goes to (its first), or None if none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    return str(infos[0][4][0]) if infos else None


def connection(
    scheme: str, host: str, address: str, port: int, connect_timeout_s: float, deadline_s: float
) -> http.client.HTTPConnection:
    """A connection to ``address`` for ``host``'s URL, done within ``deadline_s`` from now
    (``DeadlinePassed`` otherwise)."""
    pinned = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    return pinned(host, address, port, connect_timeout_s, time.monotonic() + deadline_s)


class DeadlinePassed(Exception):  # noqa: N818 - a signal, caught by the callers
    """The exchange's one deadline passed."""


class _DeadlineReader(io.RawIOBase):
    """Reads a socket, each read given only the time left before the deadline.

    Every byte the response is read from (status line, headers, body) comes through
    here, so a sender trickling bytes cannot stretch the exchange past its deadline.
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
            raise DeadlinePassed
        self.sock.settimeout(remaining)
        try:
            return self.sock.recv_into(buffer)
        except TimeoutError:
            raise DeadlinePassed from None


class _DeadlineSocket:
    """The socket as ``http.client`` sees it: sending and reading by the deadline.

    As with a real socket's files, closing it while a response still reads from it
    only takes effect once that reader is closed too.
    """

    def __init__(self, sock: socket.socket, connection: _PinnedHTTP) -> None:
        self.sock, self.connection = sock, connection
        self.readers, self.closing = 0, False

    def sendall(self, data: Any) -> None:
        remaining = self.connection.deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlinePassed
        self.sock.settimeout(remaining)
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise DeadlinePassed from None

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
        #: When the whole exchange must be done (``time.monotonic``).
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
