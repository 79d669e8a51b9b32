"""A fast stand-in for the provider: HTTP/1.1 on raw asyncio sockets, keep-alive.

Answers in the OpenAI wire format after a delay chosen by the path, so one server
serves every scenario: ``/d250/v1/chat/completions`` answers after 250 ms, ``/d0/v1/…``
at once. Chat completions get a fixed completion; embeddings get one vector per input
(``/x1536/`` in the path sets the dimensions, default 1536). ``GET /stats`` returns
the request count so far. Run alone it prints its port and serves until killed:

    python bench/server.py [--port 0] [--processes N]

With several processes they share the port (``SO_REUSEPORT``); ``/stats`` then
counts the requests of whichever process answers it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
from typing import Any

_ROUTE = re.compile(rb"^/d(\d+)(?:/x(\d+))?/v1/(chat/completions|embeddings)$")

CHAT_BODY = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "system_fingerprint": "fp_bench",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello from the bench server."},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }
).encode()


def _vectors(dims: int) -> list[str]:
    """A few realistic vectors, pre-encoded, reused across inputs."""
    rng = random.Random(dims)
    return [json.dumps([round(rng.gauss(0, 0.03), 9) for _ in range(dims)]) for _ in range(8)]


class Stats:
    """Requests answered by this process."""

    requests = 0


class Connection(asyncio.Protocol):
    """One keep-alive connection: requests are answered in order."""

    vectors: dict[int, list[str]] = {}

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: Any = None
        self.pending: asyncio.Queue[tuple[bytes, bytes, bytes]] | None = None
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.task is not None:
            self.task.cancel()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            method, path, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
            body = self.buffer[head_end + 4 : end]
            self.buffer = self.buffer[end:]
            self.dispatch(method, path.split(b"?", 1)[0], body)

    def dispatch(self, method: bytes, path: bytes, body: bytes) -> None:
        route = _ROUTE.match(path)
        immediate = route is None or int(route.group(1)) == 0
        if immediate and self.pending is None:  # no earlier delayed answer to wait for
            self.reply(method, path, body)
            return
        if self.pending is None:
            self.pending = asyncio.Queue()
            self.task = asyncio.get_running_loop().create_task(self.answer_in_order())
        self.pending.put_nowait((method, path, body))

    async def answer_in_order(self) -> None:
        assert self.pending is not None
        while True:
            method, path, body = await self.pending.get()
            route = _ROUTE.match(path)
            if route is not None and int(route.group(1)):
                await asyncio.sleep(int(route.group(1)) / 1000)
            if self.transport.is_closing():
                return
            self.reply(method, path, body)

    def reply(self, method: bytes, path: bytes, body: bytes) -> None:
        route = _ROUTE.match(path)
        if method == b"GET" and path == b"/stats":
            self.send(200, json.dumps({"requests": Stats.requests, "pid": os.getpid()}).encode())
            return
        if method != b"POST" or route is None:
            self.send(404, b'{"error": {"message": "not found", "type": "invalid_request_error"}}')
            return
        Stats.requests += 1
        if route.group(3) == b"chat/completions":
            self.send(200, CHAT_BODY)
        else:
            self.send(200, self.embeddings(int(route.group(2) or 1536), body))

    def embeddings(self, dims: int, body: bytes) -> bytes:
        inputs = json.loads(body)["input"]
        count = len(inputs) if isinstance(inputs, list) else 1
        pool = self.vectors.get(dims) or self.vectors.setdefault(dims, _vectors(dims))
        data = ",".join(
            f'{{"object":"embedding","index":{i},"embedding":{pool[i % len(pool)]}}}'
            for i in range(count)
        )
        usage = f'{{"prompt_tokens":{count * 50},"total_tokens":{count * 50}}}'
        return (
            f'{{"object":"list","model":"text-embedding-3-small","data":[{data}],"usage":{usage}}}'
        ).encode()

    def send(self, status: int, content: bytes) -> None:
        reason = b"OK" if status == 200 else b"Not Found"
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % (
            status,
            reason,
            len(content),
        )
        self.transport.write(head + content if len(content) < 65536 else head)
        if len(content) >= 65536:
            self.transport.write(content)


def listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(4096)  # a burst of thousands of connections at once (in_flight)
    return sock


async def serve(sock: socket.socket) -> None:
    server = await asyncio.get_running_loop().create_server(Connection, sock=sock)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="the bench's provider stand-in")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    sock = listening_socket(args.port)
    port = sock.getsockname()[1]
    for _ in range(args.processes - 1):
        if os.fork() == 0:  # each child accepts on its own socket bound to the same port
            sock = listening_socket(port)
            break
    else:
        print(port, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # nothing to flush or close
    asyncio.run(serve(sock))


if __name__ == "__main__":
    main()
