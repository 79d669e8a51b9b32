"""``openai-worker api`` as a real process (uvicorn) on a test's Redis and namespace,
reached over real HTTP with ``requests``; used by ``tests/api/`` (imported as
``api_process``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from support import SECRET_KEY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_env(redis_url: str, namespace: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_WORKER_")}
    env.pop("BROKER_URL", None)
    env.update(
        REDIS_URL=redis_url,
        OPENAI_WORKER_NAMESPACE=namespace,
        OPENAI_WORKER_SECRET_KEY=SECRET_KEY,
        OPENAI_WORKER_DATA_DIR=str(tmp_path / "data"),
        OPENAI_WORKER_LOG_FORMAT="json",
    )
    env.update(extra)
    return env


def api_command(*args: str) -> list[str]:
    """``openai-worker api ARGS`` as the installed script runs it."""
    return [
        sys.executable,
        "-c",
        "from worker.cli import main; raise SystemExit(main())",
        "api",
        *args,
    ]


@dataclass
class ApiProcess:
    """A running ``openai-worker api``; ``url`` is its base URL."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    token: str | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        token = token or self.token
        return {**({"Authorization": f"Bearer {token}"} if token else {}), **extra}

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {**self.headers(token), **kwargs.pop("headers", {})}
        return requests.get(self.url + path, headers=headers, timeout=90, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {**self.headers(token), **kwargs.pop("headers", {})}
        return requests.post(self.url + path, headers=headers, timeout=90, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
