"""The client for asyncio producers (FastAPI and the like): submit, read, wait.

``Client``'s behaviour on ``redis.asyncio``: the same checks and record
(``worker.submission``), the same Lua steps (``worker.results.async_store``), the same
message on the broker, written with the record in one step on the results' own Redis
(else enqueued by Dramatiq's blocking broker in a thread), so a worker cannot tell which
client sent a job. A wait blocks on the job's ended channel through one subscriber
connection per client (``worker.results.notices``), so a thousand concurrent waits
cost one connection and a read or two per job, not a poll each. Like ``Client``, it
never loads the engine that runs operations.
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any

from worker.connections import async_redis_client, resolve_redis_url
from worker.keys import Keys
from worker.queue.broker import build_broker, job_message, queue_name, with_record
from worker.results.async_store import AsyncResultStore
from worker.results.notices import POLL_FIRST_S, Subscriber
from worker.results.store import batch_group
from worker.settings import Settings
from worker.submission import prepare


class AsyncClient:
    """Submits jobs to, and reads results from, one Redis, from asyncio code.

    Use it as ``async with AsyncClient() as client: …`` or call ``aclose()``.
    """

    def __init__(self, settings: Settings | None = None, *, url: str | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.url = url or resolve_redis_url(self.settings)
        self.redis = async_redis_client(self.url)
        self.keys = Keys(self.settings.namespace)
        self.results = AsyncResultStore(
            self.redis,
            self.keys,
            self.settings.result_ttl_s,
            events_maxlen=self.settings.events_maxlen,
        )
        self._broker: Any = None
        self._subscriber: Subscriber | None = None

    async def submit(
        self,
        operation: str,
        payload: dict[str, Any],
        *,
        validate: bool = True,
        tier: str | None = None,
        on_expiry: str = "standard",
    ) -> str:
        """Enqueue a job and return its id, exactly as ``Client.submit`` does (the first
        job's id for a repeated idempotency key; ``ValidationError`` for what it refuses).
        """
        job = prepare(
            self.settings, operation, payload, validate=validate, tier=tier, on_expiry=on_expiry
        )
        if self._broker is None:
            # Builds a client for the broker but connects nothing.
            self._broker = build_broker(self.settings, self.url, for_workers=False)
        message = job_message(operation, job.job_id, payload, queue=queue_name(self.settings))
        queued = with_record(self.settings, self._broker, message)
        owner = await self.results.submit(
            job.record, operation, payload, job.idempotency_key, queued
        )
        if owner != job.job_id or queued is not None:
            # The key names an earlier job (nothing was written), or the message went
            # with the record.
            return owner
        try:
            await asyncio.to_thread(self._broker.enqueue, message)
        except BaseException:
            # No message, no job: the key must not name it for the TTL.
            await self.results.withdraw(job.job_id, job.idempotency_key)
            raise
        return job.job_id

    async def result(self, job_id: str) -> dict[str, Any] | None:
        """The job's result record, or None (unknown or expired), as ``Client.result``
        (a final one with a webhook shows what became of it: ``webhook``)."""
        record = await self.results.get(job_id)
        group = batch_group(record)
        if record is not None and group is not None:
            counts = await self.redis.hget(self.keys.batch_group(group), "request_counts")
            if counts:
                record["batch"]["request_counts"] = json.loads(counts)
        return record

    async def wait(
        self, job_id: str, timeout_s: float, *, poll_s: float = POLL_FIRST_S
    ) -> dict[str, Any] | None:
        """The record once final, or the latest one when ``timeout_s`` runs out.

        Waits on the job's ended channel, reading the record when the subscription is
        confirmed and when the job ends; every ``poll_s`` (growing to a second) only
        while the subscriber cannot reach Redis.
        """
        if self._subscriber is None:
            self._subscriber = Subscriber(self.url)
        return await self._subscriber.wait(
            self.keys.job_ended(job_id), timeout_s, lambda: self.result(job_id), poll_s=poll_s
        )

    async def aclose(self) -> None:
        if self._subscriber is not None:
            await self._subscriber.aclose()
            self._subscriber = None
        if self._broker is not None:
            await asyncio.to_thread(self._broker.close)
            self._broker = None
        await self.redis.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
