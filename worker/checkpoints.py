"""Checkpoints of a job's function-calling loop, so a redelivery does not repeat work.

When a worker dies in the middle of a tool loop, the job is delivered again. Without a
checkpoint the new attempt would ask the model afresh, get different tool calls, and
run functions a second time for calls already answered. With one, it resumes: the
conversation so far, the tool calls of the round in progress and every result already
computed are read back, and only the calls without a result run. (A function that was
running at the very moment of the crash runs again: at-least-once, the best a crash
allows.) A checkpoint is dropped when the job ends, and expires with its record.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Protocol

import redis

from worker.connections import reply_text
from worker.keys import Keys


class Checkpoint(Protocol):
    """The saved progress of one job."""

    #: Whether this attempt read or wrote anything; only then is there anything to drop.
    used: bool

    def load(self) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """The saved loop state (or None) and the tool results saved by call id."""
        ...

    def save_state(self, state: dict[str, Any]) -> None: ...

    def save_result(self, tool_call_id: str, content: str) -> None: ...


class Checkpoints(Protocol):
    def for_job(self, job_id: str) -> Checkpoint: ...

    def clear(self, job_id: str) -> None: ...


class RedisCheckpoint:
    """One hash per job: ``state`` and ``result:{tool_call_id}`` fields."""

    def __init__(self, client: redis.Redis, key: str, ttl_s: int) -> None:
        self.client, self.key, self.ttl_s = client, key, ttl_s
        self.used = False

    def load(self) -> tuple[dict[str, Any] | None, dict[str, str]]:
        self.used = True
        raw = self.client.hgetall(self.key)
        state = None
        results: dict[str, str] = {}
        for field, value in raw.items():
            name, content = reply_text(field), reply_text(value)
            if name == "state":
                state = json.loads(content)
            elif name.startswith("result:"):
                results[name.removeprefix("result:")] = content
        return state, results

    def save_state(self, state: dict[str, Any]) -> None:
        self.used = True
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.key)  # a new round: the previous round's results are in the state
        pipe.hset(self.key, "state", json.dumps(state))
        pipe.expire(self.key, self.ttl_s)
        pipe.execute()

    def save_result(self, tool_call_id: str, content: str) -> None:
        self.used = True
        self.client.hset(self.key, f"result:{tool_call_id}", content)


class RedisCheckpoints:
    def __init__(self, client: redis.Redis, keys: Keys, ttl_s: int) -> None:
        self.client, self.keys, self.ttl_s = client, keys, ttl_s

    def for_job(self, job_id: str) -> Checkpoint:
        return RedisCheckpoint(self.client, self.keys.checkpoint(job_id), self.ttl_s)

    def clear(self, job_id: str) -> None:
        self.client.delete(self.keys.checkpoint(job_id))


class MemoryCheckpoint:
    def __init__(self) -> None:
        self.state: dict[str, Any] | None = None
        self.results: dict[str, str] = {}
        self.used = False
        self._lock = threading.Lock()

    def load(self) -> tuple[dict[str, Any] | None, dict[str, str]]:
        self.used = True
        with self._lock:
            state = json.loads(json.dumps(self.state)) if self.state is not None else None
            return state, dict(self.results)

    def save_state(self, state: dict[str, Any]) -> None:
        self.used = True
        with self._lock:
            self.state = json.loads(json.dumps(state))
            self.results = {}

    def save_result(self, tool_call_id: str, content: str) -> None:
        self.used = True
        with self._lock:
            self.results[tool_call_id] = content


class MemoryCheckpoints:
    """The in-memory stand-in for unit tests."""

    def __init__(self) -> None:
        self.jobs: dict[str, MemoryCheckpoint] = {}

    def for_job(self, job_id: str) -> Checkpoint:
        return self.jobs.setdefault(job_id, MemoryCheckpoint())

    def clear(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)
