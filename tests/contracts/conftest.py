"""Fixtures of the Batch API server's tests: the server lives in ``contracts/``.

That directory goes on ``sys.path`` (appended, as ``contracts/conftest.py`` does) so the
server imports as ``batch_api_server``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[2] / "contracts"))

from batch_api_server import BatchApi, serve_batch_api  # noqa: E402


@pytest.fixture
def api() -> Iterator[BatchApi]:
    with serve_batch_api() as server:
        yield server
