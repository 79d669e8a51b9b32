"""How worker processes are started: Dramatiq's worker command over our actors.

Shared by ``openai-worker run``, the tests and the benchmark, so all of them run
workers the same way. Imports nothing of Dramatiq: it only names the command.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

#: The module Dramatiq's worker processes load: it declares the broker and the actors.
ACTORS_MODULE = "worker.queue.actors"
#: The longest an idle worker waits between polls of the queue, in milliseconds.
IDLE_POLL_MS = 100
#: Where Dramatiq's consumers read that wait from.
IDLE_POLL_ENV = "dramatiq_worker_timeout"


def worker_command(processes: int, threads: int) -> list[str]:
    """The command line of Dramatiq's worker processes for our actors."""
    return [
        sys.executable,
        "-m",
        "dramatiq",
        ACTORS_MODULE,
        "--processes",
        str(processes),
        "--threads",
        str(threads),
    ]


def worker_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the idle poll set unless the caller chose one.

    Dramatiq's idle consumers back off up to this many ms between polls; its default
    (1 s) adds queue wait and slows ramp-up, and polling Redis 10 times a second costs
    next to nothing (bench/run.py: queue wait p50 30 -> 19 ms, concurrency 0.88 -> 0.91).
    """
    return {IDLE_POLL_ENV: str(IDLE_POLL_MS), **env}
