"""Turns: at most a few worker threads of a process run a job's own code at once.

A process with a thousand worker threads has them all wake together when a wave of
answers comes back. Left alone they share the GIL round-robin, so every job of the wave
finishes near the end of it (each got a thousandth of the interpreter), and every hand-off
of the GIL between a thousand threads costs a context switch. With turns, a few threads
run at a time and the others sleep in line in the order they asked: a job's work after
its answer is done in one go, the first answers start their next calls soonest, and the
GIL passes between a few threads.

A thread holds its turn from taking a message to finishing it, and gives it back while
it waits on the outside world (``away``: a provider call, a sleep), so a turn is never
held across a wait that another thread's turn could end.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator


class _Held(threading.local):
    """The turn the current thread holds: the semaphore it took it from, or None."""

    line: threading.Semaphore | None = None


class Turns:
    """The turns of one process; without a limit, taking one never waits."""

    def __init__(self) -> None:
        self._line: threading.Semaphore | None = None
        self._size = 0
        self._held = _Held()

    @property
    def size(self) -> int | None:
        """How many threads may hold a turn at once; None: no limit."""
        return self._size or None

    def limit(self, size: int | None) -> None:
        """Let at most ``size`` threads hold a turn at once (None: any number). Set
        before the worker threads start."""
        self._size = size or 0
        self._line = threading.Semaphore(size) if size else None

    def take(self) -> None:
        """Wait for a turn, unless this thread holds one."""
        line = self._line
        if line is not None and self._held.line is None:
            line.acquire()
            self._held.line = line

    def give_back(self) -> None:
        """Give this thread's turn back, if it holds one."""
        line = self._held.line
        if line is not None:
            self._held.line = None
            line.release()

    @contextlib.contextmanager
    def away(self) -> Iterator[None]:
        """Give the turn back for a wait on the outside world, and take one again after."""
        if self._held.line is None:
            yield
            return
        self.give_back()
        try:
            yield
        finally:
            self.take()

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` without holding a turn."""
        with self.away():
            time.sleep(seconds)


#: The process's turns: worker threads are a process's own.
TURNS = Turns()
