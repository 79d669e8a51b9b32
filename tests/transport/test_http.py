"""The HTTP client over a real socket: what goes out is what the worker means to send."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from worker.errors import ConfigurationError
from worker.transport import HttpClient

CHAT_ANSWER = b'{"id":"chatcmpl-1","object":"chat.completion","choices":[]}'


class RawServer:
    """Answers every request with one JSON body and keeps each request's raw head."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += connection.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(body) < length:
                    body += connection.recv(65536)
                self.heads.append(head)
                self.bodies.append(body)
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(CHAT_ANSWER)}\r\nConnection: close\r\n\r\n".encode()
                    + CHAT_ANSWER
                )

    def header_lines(self, name: str) -> list[bytes]:
        wanted = name.lower().encode() + b":"
        return [line for line in self.heads[-1].split(b"\r\n") if line.lower().startswith(wanted)]


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    server = RawServer()
    yield server
    server.listener.close()


def test_a_netrc_entry_for_the_host_does_not_replace_the_workers_auth(
    wire_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-the-key\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = HttpClient(timeout_s=5, connect_timeout_s=2)

    client.request(
        "POST",
        f"{wire_server.url}/v1/chat/completions",
        headers={"Authorization": "Bearer sk-the-configured-key"},
        json_body={"messages": []},
    )

    assert wire_server.last.headers["authorization"] == "Bearer sk-the-configured-key"


def test_a_call_carries_the_json_body_the_query_and_one_of_each_header(
    raw_server: RawServer,
) -> None:
    client = HttpClient(timeout_s=5, connect_timeout_s=2)

    answer = client.request(
        "POST",
        f"{raw_server.url}/openai/deployments/d/chat/completions",
        headers={"user-agent": "my-app/1.0", "api-key": "k-1"},
        json_body={"messages": [{"role": "user", "content": "héllo"}]},
        params={"api-version": "2024-10-21"},
    )

    assert answer.status_code == 200
    assert answer.json()["id"] == "chatcmpl-1"
    assert answer.headers["content-type"] == "application/json"
    head = raw_server.heads[-1]
    assert head.startswith(
        b"POST /openai/deployments/d/chat/completions?api-version=2024-10-21 HTTP/1.1\r\n"
    )
    # The caller's header replaces the session's default whatever its letter case.
    assert raw_server.header_lines("user-agent") == [b"user-agent: my-app/1.0"]
    assert raw_server.header_lines("content-type") == [b"Content-Type: application/json"]
    body = b'{"messages": [{"role": "user", "content": "h\\u00e9llo"}]}'
    assert raw_server.bodies[-1] == body
    assert raw_server.header_lines("content-length") == [f"Content-Length: {len(body)}".encode()]


def test_a_header_that_cannot_be_sent_is_refused_without_quoting_it(raw_server: RawServer) -> None:
    client = HttpClient(timeout_s=5, connect_timeout_s=2)

    with pytest.raises(ConfigurationError) as refused:
        client.request(
            "POST",
            f"{raw_server.url}/v1/chat/completions",
            headers={"Authorization": "Bearer sk-secret-part\r\nX-Injected: 1"},
            json_body={"messages": []},
        )

    assert "sk-secret-part" not in str(refused.value)
    assert raw_server.heads == []


def test_the_environments_proxy_carries_the_call(
    raw_server: RawServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", raw_server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = HttpClient(timeout_s=5, connect_timeout_s=2)

    answer = client.request(
        "POST",
        "http://provider.invalid/v1/chat/completions",
        headers={"Authorization": "Bearer sk-k"},
        json_body={"messages": []},
    )

    assert answer.status_code == 200
    # A proxy is asked for the whole URL.
    assert raw_server.heads[-1].startswith(
        b"POST http://provider.invalid/v1/chat/completions HTTP/1.1\r\n"
    )


def test_hosts_the_environment_exempts_from_the_proxy_are_called_directly(
    raw_server: RawServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = HttpClient(timeout_s=5, connect_timeout_s=2)

    answer = client.request(
        "POST", f"{raw_server.url}/v1/chat/completions", headers={}, json_body={"messages": []}
    )

    assert answer.status_code == 200
    assert raw_server.heads[-1].startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
