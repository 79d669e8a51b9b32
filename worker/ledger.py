"""The call ledger: every provider call a job has paid for, kept until the job ends.

Each call a job makes has a stable key within the job (``round:0``, ``batch:3``,
``prompt:7/round:1``, ``tool:call_abc``…). Before a call, the ledger is consulted; after
an answer, what the operation needs of it is put under that key. Any later delivery of
the job, whatever the reason (a retry after a 429 on call k, a rate-limit wait, a crash,
a final write Redis refused), replays the answered calls from the ledger and sends only
the calls that have no answer. The ledger is dropped when the job ends.

Writes are buffered and made durable (``flush``) before the next paid call, before a
function runs, and before the delivery hands the job back to the queue, so that no
answer can be lost to a later failure of the job; a job that makes one call and
succeeds never writes its ledger at all (its answer goes straight into the record), so
the ledger costs a single-call job no Redis round trip. On a first delivery the ledger
is known to be empty and is not read either.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Protocol

import redis

from worker.connections import reply_text
from worker.keys import Keys

#: The key of the provider call being paid for now (scope included): what the batch
#: tier names a request by (its ``custom_id`` is the job id and this key).
_PAYING: ContextVar[str | None] = ContextVar("paying_call", default=None)


def paying_call() -> str | None:
    """The full ledger key of the call the current thread is making, if any."""
    return _PAYING.get()


class LedgerBackend(Protocol):
    """Where ledgers are kept: one map of call key → bytes per job."""

    def get(self, job_id: str, key: str) -> bytes | None: ...

    def put(self, job_id: str, entries: Mapping[str, bytes]) -> None: ...

    def put_many(self, entries: Mapping[str, Mapping[str, bytes]]) -> None:
        """Several jobs' entries at once (by job id), in one round trip."""
        ...

    def keys(self, job_id: str) -> list[str]: ...

    def delete(self, job_id: str) -> None: ...


class RedisLedgerBackend:
    """One Redis hash per job (``Keys.ledger``), expiring with the job's record."""

    def __init__(self, client: redis.Redis, keys: Keys, ttl_s: int) -> None:
        self.client, self.names, self.ttl_s = client, keys, ttl_s

    def get(self, job_id: str, key: str) -> bytes | None:
        value: Any = self.client.hget(self.names.ledger(job_id), key)
        return None if value is None else bytes(value)

    def put(self, job_id: str, entries: Mapping[str, bytes]) -> None:
        name = self.names.ledger(job_id)
        mapping: dict[Any, Any] = dict(entries)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(name, mapping=mapping)
        pipe.expire(name, self.ttl_s)
        pipe.execute()

    def put_many(self, entries: Mapping[str, Mapping[str, bytes]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for job_id, job_entries in entries.items():
            name = self.names.ledger(job_id)
            mapping: dict[Any, Any] = dict(job_entries)
            pipe.hset(name, mapping=mapping)
            pipe.expire(name, self.ttl_s)
        pipe.execute()

    def keys(self, job_id: str) -> list[str]:
        return sorted(reply_text(k) for k in self.client.hkeys(self.names.ledger(job_id)))

    def delete(self, job_id: str) -> None:
        self.client.delete(self.names.ledger(job_id))


class MemoryLedgerBackend:
    """The in-memory stand-in for unit tests."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str, key: str) -> bytes | None:
        return self.jobs.get(job_id, {}).get(key)

    def put(self, job_id: str, entries: Mapping[str, bytes]) -> None:
        with self._lock:
            self.jobs.setdefault(job_id, {}).update(entries)

    def put_many(self, entries: Mapping[str, Mapping[str, bytes]]) -> None:
        for job_id, job_entries in entries.items():
            self.put(job_id, job_entries)

    def keys(self, job_id: str) -> list[str]:
        return sorted(self.jobs.get(job_id, {}))

    def delete(self, job_id: str) -> None:
        with self._lock:
            self.jobs.pop(job_id, None)


class JobLedger:
    """One delivery's view of a job's ledger: reads through, writes buffered."""

    def __init__(self, backend: LedgerBackend, job_id: str, *, known_empty: bool) -> None:
        self.backend, self.job_id = backend, job_id
        #: Nothing was ever flushed for this job (a first delivery): reads skip Redis.
        self.known_empty = known_empty
        #: Whether this delivery made anything durable (the ledger must then be dropped).
        self.flushed = False
        self._pending: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            if key in self._pending:
                return self._pending[key]
        if self.known_empty and not self.flushed:
            return None
        return self.backend.get(self.job_id, key)

    def put(self, key: str, value: bytes) -> None:
        """Keep ``value`` under ``key``; durable at the next ``flush``."""
        with self._lock:
            self._pending[key] = value

    def put_now(self, key: str, value: bytes) -> None:
        self.put(key, value)
        self.flush()

    def flush(self) -> None:
        """Make every answer kept so far durable."""
        with self._lock:
            if not self._pending:
                return
            entries, self._pending = self._pending, {}
        try:
            self.backend.put(self.job_id, entries)
        except BaseException:
            with self._lock:  # keep them for the next try
                self._pending = {**entries, **self._pending}
            raise
        self.flushed = True

    def answered(self) -> list[str]:
        """The keys of every answer this job has, durable or not."""
        durable = [] if self.known_empty and not self.flushed else self.backend.keys(self.job_id)
        with self._lock:
            return sorted(set(durable) | set(self._pending))

    def calls(self, scope: str = "") -> CallLog:
        """The typed view operations use, under ``scope`` (such as ``prompt:3/``)."""
        return CallLog(self, scope)


class CallLog:
    """What operations use: answers by call key, as JSON or raw bytes, within a scope.

    An ``eager`` log makes every answer durable at once: for parts of a job that run
    side by side (the prompts of a multi-prompt job), where one part's last answer
    could otherwise wait in memory while another part runs a long function.
    """

    def __init__(self, ledger: JobLedger, scope: str = "", *, eager: bool = False) -> None:
        self.ledger, self.scope, self.eager = ledger, scope, eager

    def scoped(self, name: str, *, eager: bool = False) -> CallLog:
        """The calls of one part of the job (one prompt), apart from the others'."""
        return CallLog(self.ledger, f"{self.scope}{name}/", eager=eager or self.eager)

    def get_bytes(self, key: str) -> bytes | None:
        return self.ledger.get(self.scope + key)

    def put_bytes(self, key: str, value: bytes) -> None:
        if self.eager:
            self.ledger.put_now(self.scope + key, value)
        else:
            self.ledger.put(self.scope + key, value)

    def get_json(self, key: str) -> Any:
        raw = self.get_bytes(key)
        return None if raw is None else json.loads(raw)

    def put_json(self, key: str, value: Any, *, now: bool = False) -> None:
        encoded = json.dumps(value, separators=(",", ":")).encode()
        if now:
            self.ledger.put_now(self.scope + key, encoded)
        else:
            self.put_bytes(key, encoded)

    def answer(self, key: str, call: Callable[[], Any]) -> Any:
        """The answer stored under ``key``, else ``call()``'s, stored before it is used.

        Answers kept so far become durable before the call is paid for.
        """
        stored = self.get_json(key)
        if stored is not None:
            return stored
        self.ledger.flush()
        with self.paying(key):
            answer = call()
        self.put_json(key, answer)
        return answer

    @contextlib.contextmanager
    def paying(self, key: str) -> Iterator[None]:
        """Name the call made inside the block (``paying_call``) by its full key."""
        token = _PAYING.set(self.scope + key)
        try:
            yield
        finally:
            _PAYING.reset(token)

    def flush(self) -> None:
        self.ledger.flush()


class Ledgers:
    """Opens each delivery's ledger and drops a job's ledger when it ends."""

    def __init__(self, backend: LedgerBackend) -> None:
        self.backend = backend

    def for_delivery(self, job_id: str, *, known_empty: bool) -> JobLedger:
        return JobLedger(self.backend, job_id, known_empty=known_empty)

    def drop(self, ledger: JobLedger) -> None:
        """Forget a finished job's calls (nothing to do if none was ever made durable)."""
        if ledger.flushed or not ledger.known_empty:
            self.backend.delete(ledger.job_id)


def memory_ledger(job_id: str = "job") -> CallLog:
    """A ledger in memory, for unit tests and operations run outside a worker."""
    return JobLedger(MemoryLedgerBackend(), job_id, known_empty=True).calls()
