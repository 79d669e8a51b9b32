"""The safe downloader, against real sockets: where it connects, what it sends, when it stops."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from worker.errors import ProviderError, TransportError
from worker.operations._image_download import download_image
from worker.transport import HttpClient
from worker.transport.download import blocked, fetch

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


class Listener:
    """A TCP server on ``host`` answering each connection with ``body`` after headers,
    ``drip_s`` seconds between bytes; counts connections and keeps what it was sent."""

    def __init__(self, host: str, body: bytes, *, drip_s: float = 0.0, ctype: str = "image/png"):
        self.sock = socket.create_server((host, 0))
        self.host, self.port = host, self.sock.getsockname()[1]
        self.body, self.drip_s, self.ctype = body, drip_s, ctype
        self.connections = 0
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            self.received.append(conn.recv(65536))
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: {self.ctype}\r\n"
                f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n"
            )
            try:
                conn.sendall(head.encode())
                if not self.drip_s:
                    conn.sendall(self.body)
                    return
                for byte in self.body:
                    conn.sendall(bytes([byte]))
                    time.sleep(self.drip_s)
            except OSError:
                return

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listen() -> Iterator[Any]:
    opened: list[Listener] = []

    def start(host: str, body: bytes = PNG, **kwargs: Any) -> Listener:
        listener = Listener(host, body, **kwargs)
        opened.append(listener)
        return listener

    yield start
    for listener in opened:
        listener.close()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.0.0.2",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "ff0e::1",
    ],
)
def test_internal_and_special_addresses_are_blocked(address: str) -> None:
    assert blocked(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_not_blocked(address: str) -> None:
    assert not blocked(address)


def test_a_url_on_another_loopback_address_is_refused_without_connecting(listen: Any) -> None:
    # Given a listener on 127.0.0.2 and a configuration whose endpoint is elsewhere
    target = listen("127.0.0.2")

    # When an answer names it, even as https
    with pytest.raises(ProviderError, match="loopback, private or reserved"):
        fetch(
            f"https://127.0.0.2:{target.port}/image.png",
            endpoint="https://api.openai.com/v1",
            max_bytes=1000,
            deadline_s=5,
            connect_timeout_s=2,
        )

    # Then no connection was ever made to it
    time.sleep(0.2)
    assert target.connections == 0


def test_the_configurations_own_host_may_serve_plain_http_without_credentials(
    listen: Any,
) -> None:
    own = listen("127.0.0.1")

    got = fetch(
        f"{own.url}/image.png?sig=1",
        endpoint=f"{own.url}/v1",
        max_bytes=1000,
        deadline_s=5,
        connect_timeout_s=2,
        accept="image/*",
    )

    assert got.content == PNG
    assert got.content_type == "image/png"
    request = own.received[0].decode().lower()
    assert request.startswith("get /image.png?sig=1 http/1.1")
    assert "authorization" not in request
    assert "cookie" not in request
    assert "api-key" not in request


def test_a_plain_http_url_elsewhere_is_refused(listen: Any) -> None:
    with pytest.raises(ProviderError, match="not https"):
        fetch(
            "http://example.com/image.png",
            endpoint="https://api.openai.com/v1",
            max_bytes=1000,
            deadline_s=5,
            connect_timeout_s=2,
        )


def test_a_body_trickling_in_is_cut_at_the_deadline(listen: Any) -> None:
    # Given a sender that sends a byte every 0.2 s (each read succeeds on its own)
    slow = listen("127.0.0.1", PNG, drip_s=0.2)
    started = time.monotonic()

    # When the whole download may take 1 s
    with pytest.raises(TransportError, match="took longer than 1 s"):
        fetch(
            f"{slow.url}/image.png",
            endpoint=slow.url,
            max_bytes=1000,
            deadline_s=1,
            connect_timeout_s=2,
        )

    # Then it ends at that deadline, not when the sender is done
    assert time.monotonic() - started < 3


def test_a_body_that_is_not_an_image_is_refused(listen: Any) -> None:
    page = listen("127.0.0.1", b"<html>not a picture</html>", ctype="image/png")
    http = HttpClient(timeout_s=5, connect_timeout_s=2)

    with pytest.raises(ProviderError, match="not an image"):
        download_image(http, f"{page.url}/x.png", endpoint=page.url, deadline_s=5)


def test_a_body_larger_than_allowed_is_refused(listen: Any) -> None:
    big = listen("127.0.0.1", PNG * 100)

    with pytest.raises(ProviderError, match="larger than"):
        fetch(
            f"{big.url}/x.png", endpoint=big.url, max_bytes=100, deadline_s=5, connect_timeout_s=2
        )
