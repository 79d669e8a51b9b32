"""The HTTP layer: a threading HTTP/1.1 server that hands each request to an ``App``.

Keep-alive holds because every request body is read to its end, even when refused,
and every answer has a Content-Length. A file is sent with ``socket.sendfile``.
"""

from __future__ import annotations

import io
import json
import socket
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from batch_api.wire import ApiError

#: A request body read into memory (anything but an upload) is at most this long.
JSON_LIMIT = 1 << 20


@dataclass
class Reply:
    """A JSON answer, or the bytes of a file."""

    status: int
    body: dict[str, Any] | None = None
    file: Path | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Body:
    """A request body: at most ``length`` bytes of the connection, read once."""

    def __init__(self, stream: io.BufferedIOBase, length: int) -> None:
        self.length = length
        self._stream = stream
        self._left = length

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._stream.read(size) if size else b""
        self._left -= len(data)
        return data

    def json(self) -> dict[str, Any]:
        if self.length > JSON_LIMIT:
            raise ApiError(413, "The request body is too large")
        try:
            value = json.loads(self.read())
        except ValueError:
            raise ApiError(400, "The request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise ApiError(400, "The request body must be a JSON object")
        return value

    def drain(self) -> None:
        while self._left > 0 and self.read(1 << 20):
            pass


class App(Protocol):
    def handle(self, method: str, target: str, headers: dict[str, str], body: Body) -> Reply:
        """Answer one request, or raise ``ApiError``."""


class Server(ThreadingHTTPServer):
    """Serves ``app`` on 127.0.0.1, on a free port."""

    daemon_threads = True

    def __init__(self, app: App) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes: without this, Nagle's algorithm and
        # the client's delayed ACK hold each small answer back ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the app keeps its own request log."""

    def _serve(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        length = _content_length(headers)
        if length is None:
            # Without a length the body cannot be skipped: answer, then close.
            self.close_connection = True
            self._send(Reply(411, ApiError(411, "Send a valid Content-Length").body()))
            return
        body = Body(self.rfile, length)
        try:
            reply = self.server.app.handle(self.command, self.path, headers, body)
        except ApiError as error:
            reply = Reply(error.status, error.body())
        except Exception:
            # A bug in the server: answer 500 (a test sees it) rather than drop the connection.
            traceback.print_exc()
            reply = Reply(500, ApiError(500, "The batch API server failed").body())
        body.drain()
        hold = getattr(self.server.app, "before_answer", None)
        if hold is not None:
            hold(self.command, self.path.partition("?")[0])
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        if reply.file is not None:
            try:
                content = reply.file.open("rb")
            except FileNotFoundError:
                reply = Reply(404, ApiError(404, "The file is gone", code="not_found").body())
            else:
                with content:
                    self._send_file(reply, content)
                return
        data = json.dumps(reply.body).encode()
        self._start(reply, "application/json", len(data))
        self.wfile.write(data)

    def _send_file(self, reply: Reply, content: BinaryIO) -> None:
        size = content.seek(0, 2)
        content.seek(0)
        self._start(reply, "application/octet-stream", size)
        self.wfile.flush()
        self.connection.sendfile(content)

    def _start(self, reply: Reply, content_type: str, length: int) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.end_headers()


def _content_length(headers: dict[str, str]) -> int | None:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return None
    raw = headers.get("content-length") or "0"
    return int(raw) if raw.isdigit() else None
