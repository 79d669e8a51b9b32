"""Fixtures of the contract suite.

The suite's helper modules (``cases``, ``harness``, ``handmade``) sit next to the tests;
this directory goes on ``sys.path`` so they import by name. The offline-replay test
needs real Redis and a real worker process: ``redis_url``, ``namespace`` and
``start_worker`` come from ``tests/real_services.py``, as in the rest of the suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Appended, not prepended: tests/ (with its own conftest) must keep precedence.
sys.path.append(str(Path(__file__).resolve().parent))


# Real Redis and real worker processes, shared with tests/.
from real_services import namespace, redis_url, start_worker  # noqa: E402, F401
