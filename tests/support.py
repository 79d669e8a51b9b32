"""Test support shared by tests and contracts: the wire server, configurations, keys.

Imported as ``support`` (pytest's ``pythonpath`` includes ``tests``).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import psutil
import redis

from worker.configurations import Configuration, generate_secret_key
from worker.connections import reply_text
from worker.redaction import FRAGMENT, secret_forms

OPENAI_KEY = "sk-test-openai-0123456789abcdef"
AZURE_KEY = "azure-test-key-0123456789abcdef"
ENTRA_TOKEN = "eyJ0eXAiOiJKV1Qi.entra-test-token.0123456789"
SECRET_KEY = generate_secret_key()


#: A structured-output format (a strict JSON Schema) the chat tests ask for.
CITY_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "city",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
            "required": ["name", "population"],
            "additionalProperties": False,
        },
    },
}


# --- the wire server ------------------------------------------------------------------


@dataclass
class Recorded:
    """One request the wire server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    received_at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """What the wire server answers: status, JSON (or raw body), headers, a delay."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False  # close the connection without answering


def chat_completion(
    content: str | None = "Hello from the wire server.",
    *,
    finish_reason: str = "stop",
    tool_calls: list[dict[str, Any]] | None = None,
    usage: dict[str, int] | None = None,
    model: str = "gpt-4o-mini",
) -> dict[str, Any]:
    """A chat completion body as the providers send it."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1732000000,
        "model": model,
        "system_fingerprint": "fp_test",
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        "usage": usage or {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def provider_error(status: int, message: str, code: str | None = None) -> Reply:
    return Reply(
        status,
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        },
    )


class _Listening(ThreadingHTTPServer):
    """A threaded HTTP server whose listen backlog takes a burst of connections (the
    standard library's 5 resets the rest when a hundred threads connect at once)."""

    request_queue_size = 1024


class WireServer:
    """A threaded HTTP server (127.0.0.1, a free port unless told) with scripted answers."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()
        self.handler: Callable[[Recorded], Reply] = lambda _: Reply(json=chat_completion())
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                recorded = Recorded(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with server._lock:
                    server.requests.append(recorded)
                    reply = server.replies.popleft() if server.replies else None
                if reply is None:
                    reply = server.handler(recorded)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                payload = reply.body if reply.body is not None else json.dumps(reply.json).encode()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = _Listening((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, then fall back to handler."""
        self.replies.extend(replies)

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- configurations -------------------------------------------------------------------


def make_configuration(variant: str, base_url: str, name: str = "test") -> Configuration:
    """A configuration of one wire variant pointing at ``base_url``."""
    if variant == "openai":
        return Configuration(
            name=name,
            api_type="openai",
            endpoint=f"{base_url}/v1",
            api_key=OPENAI_KEY,
            organization="org-test",
        )
    if variant == "openai_compatible":
        return Configuration(
            name=name, api_type="openai_compatible", endpoint=f"{base_url}/v1", api_key=OPENAI_KEY
        )
    # azure_api_key, azure_bearer (2024-10-21), azure_v1, azure_v1_bearer, or azure@VERSION
    version = variant.partition("@")[2] or ("v1" if "v1" in variant else "2024-10-21")
    key_type = "bearer_token" if variant.endswith("bearer") else "api_key"
    return Configuration(
        name=name,
        api_type="azure_openai",
        endpoint=f"{base_url}/openai/deployments/",
        api_key=ENTRA_TOKEN if key_type == "bearer_token" else AZURE_KEY,
        deployment_name="my-deployment",
        api_version=version,
        key_type=key_type,
    )


#: Every plaintext key the tests configure; none may ever be stored or logged.
TEST_SECRETS = [s.encode() for s in (OPENAI_KEY, AZURE_KEY, ENTRA_TOKEN)]
#: Every run of 12 characters of a test key or of its base64 forms, and of the secret
#: key that encrypts configurations: none may appear anywhere the worker writes.
LEAK_FRAGMENTS = sorted(
    {
        form[i : i + FRAGMENT].encode()
        for secret in (OPENAI_KEY, AZURE_KEY, ENTRA_TOKEN, SECRET_KEY)
        for form in secret_forms(secret)
        for i in range(len(form) - FRAGMENT + 1)
    }
)


def leaks(data: bytes) -> bool:
    """Whether ``data`` holds a fragment of a test key, plain or base64-encoded."""
    return any(fragment in data for fragment in LEAK_FRAGMENTS)


#: Reads of each Redis type, for ``dump_values``' pipelines.
_READS: dict[bytes, Callable[[Any, bytes], Any]] = {
    b"string": lambda pipe, key: pipe.get(key),
    b"hash": lambda pipe, key: pipe.hgetall(key),
    b"list": lambda pipe, key: pipe.lrange(key, 0, -1),
    b"set": lambda pipe, key: pipe.smembers(key),
    b"zset": lambda pipe, key: pipe.zrange(key, 0, -1),
}


def dump_values(client: Any, keys: list[bytes]) -> list[bytes]:
    """Everything stored under each key, as bytes, whatever its type (a stream or a
    missing key: nothing), in two round trips: a test's teardown reads thousands."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
    kinds = pipe.execute()
    read = [(key, kind) for key, kind in zip(keys, kinds, strict=True) if kind in _READS]
    for key, kind in read:
        _READS[kind](pipe, key)
    found = dict(zip([key for key, _ in read], pipe.execute(), strict=True))
    values = []
    for key, kind in zip(keys, kinds, strict=True):
        value = found.get(key)
        if kind == b"string":
            values.append(bytes(value or b""))
        elif kind == b"hash":
            values.append(b"\n".join(k + b"=" + v for k, v in value.items()))
        elif value is not None:
            values.append(b"\n".join(value))
        else:
            values.append(b"")
    return values


def dump_value(client: Any, key: bytes) -> bytes:
    """``dump_values`` of one key."""
    return dump_values(client, [key])[0]


class WorkerKilled(BaseException):
    """Stands in for the process dying: nothing in the worker catches it."""


@dataclass
class CrashingSteps:
    """Two functions for resume tests: ``quick_step``, and ``slow_step``, which kills
    the worker while ``armed``. ``calls`` lists every run, in order."""

    calls: list[str] = field(default_factory=list)
    armed: bool = True

    def register(self, functions: Any) -> None:
        schema = {"type": "object", "properties": {}}
        functions.register(self.quick_step, parameters=schema)
        functions.register(self.slow_step, parameters=schema)

    def quick_step(self) -> str:
        self.calls.append("quick")
        return "quick done"

    def slow_step(self) -> str:
        self.calls.append("slow")
        if self.armed:
            raise WorkerKilled
        return "slow done"


def kill_hard(worker: Any) -> None:
    """SIGKILL the worker and its processes, as a machine crash would."""
    parent = psutil.Process(worker.process.pid)
    for process in [*parent.children(recursive=True), parent]:
        process.send_signal(signal.SIGKILL)
    worker.process.wait(timeout=10)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (yet)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Any, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


_LINE = re.compile(r"^\S+ \[\d+ (?P<source>[^\]]+)\] (?P<args>.*)$")
_ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')


class CommandLog:
    """Every command Redis runs while this is open (MONITOR): source and arguments."""

    def __init__(self, url: str) -> None:
        self.admin = redis.Redis.from_url(url)
        self.connection = self.admin.connection_pool.get_connection()
        self.connection.send_command("MONITOR")
        assert reply_text(self.connection.read_response()) == "OK"
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                self.lines.append(reply_text(self.connection.read_response()))
            except (redis.ConnectionError, OSError, ValueError):
                return

    def commands(self) -> list[tuple[str, list[str]]]:
        """(source, arguments) of each command so far; a script's own have ``lua``."""
        found = []
        for line in list(self.lines):
            if match := _LINE.match(line):
                found.append((match["source"], _ARG.findall(match["args"])))
        return found

    def record_reads(self, key: str) -> int:
        """How many times a client (not a script) read the record at ``key``."""
        return sum(
            1
            for source, args in self.commands()
            if source != "lua"
            and (args[:3] == ["HGET", key, "record"] or args[:3] == ["HMGET", key, "record"])
        )

    def close(self) -> list[tuple[str, list[str]]]:
        """Stop once Redis has logged everything sent before; the commands logged."""
        marker = uuid.uuid4().hex
        self.admin.echo(marker)
        wait_for(lambda: any(marker in line for line in self.lines[-50:]), 30)
        self.connection.disconnect()
        self.thread.join(timeout=10)
        self.admin.close()
        return self.commands()
