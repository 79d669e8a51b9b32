"""Fixtures for the operating tests: a free port, polling."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _eventually(check: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail with its last error."""
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except (AssertionError, OSError) as exc:
            last = exc
        else:
            if value:
                return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout_s}s: {last!r}")


@pytest.fixture
def eventually() -> Callable[..., Any]:
    """``eventually(check, timeout_s=30)``: poll until ``check`` returns something truthy."""
    return _eventually


@pytest.fixture
def port() -> int:
    return free_port()
