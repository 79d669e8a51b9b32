"""Enqueueing a job's message from asyncio code (``worker.AsyncClient``).

Dramatiq's brokers are blocking. On the Redis broker the enqueue is one MULTI/EXEC of
two scripts (``WakingRedisBroker.enqueue_calls``), sent here with ``redis.asyncio``:
the same message, the same scripts and arguments, the same middleware hooks, so a
worker cannot tell it from ``Client``'s. RabbitMQ's enqueue runs in a thread (its
client, pika, is blocking and keeps a connection per thread).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from worker.connections import async_redis_client
from worker.queue.broker import build_broker, job_message, queue_name
from worker.settings import Settings

if TYPE_CHECKING:
    import redis.asyncio


class AsyncEnqueue:
    """Sends job messages to the configured broker without blocking the event loop."""

    def __init__(
        self, settings: Settings, url: str, client: redis.asyncio.Redis | None = None
    ) -> None:
        self.settings = settings
        self.queue = queue_name(settings)
        #: The blocking broker: its middleware, and what it sends (or sends, RabbitMQ).
        self.broker: Any = build_broker(settings, url, for_workers=False)
        self.client: redis.asyncio.Redis | None = None
        self._own_client = False
        if not settings.uses_rabbitmq:
            if client is None or settings.broker_url:
                client = async_redis_client(settings.broker_url or url)
                self._own_client = True
            self.client = client
        self._scripts_loaded = False
        self._preparing = asyncio.Lock()

    async def enqueue(self, operation: str, job_id: str, payload: dict[str, Any]) -> None:
        """Enqueue the message of one job, as ``Client`` does."""
        message = job_message(operation, job_id, payload, queue=self.queue)
        if self.client is None:
            await asyncio.to_thread(self.broker.enqueue, message)
            return
        # As RedisBroker.enqueue: a message id of its own in Redis, the middleware told.
        message = message.copy(options={"redis_message_id": str(uuid.uuid4())})
        self.broker.emit_before("enqueue", message, None)
        data = message.encode()
        message_id = message.options["redis_message_id"]
        if not self._scripts_loaded:
            await self._prepare(message.queue_name)
        for last in (False, True):
            async with self.client.pipeline(transaction=True) as pipe:
                for call in self.broker.enqueue_calls(message.queue_name, message_id, data):
                    pipe.evalsha(*call)
                answers = await pipe.execute(raise_on_error=False)
            enqueued, load = self.broker.enqueue_outcome(answers, last=last)
            if load:
                await self._load_scripts()
            if enqueued:
                break
        self.broker.emit_after("enqueue", message, None)

    async def _prepare(self, queue: str) -> None:
        """Once, for all the enqueues waiting on it: the scripts, and what Dramatiq reads
        from Redis for its arguments the first time (a blocking call), off the loop."""
        async with self._preparing:
            if not self._scripts_loaded:
                await asyncio.to_thread(self.broker.enqueue_calls, queue, "", b"")
                await self._load_scripts()

    async def _load_scripts(self) -> None:
        assert self.client is not None
        for text in self.broker.script_texts:
            await self.client.script_load(text)
        self._scripts_loaded = True

    async def aclose(self) -> None:
        if self._own_client and self.client is not None:
            await self.client.aclose()
        await asyncio.to_thread(self.broker.close)
