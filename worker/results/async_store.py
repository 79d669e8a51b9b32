"""The result store's producer side on ``redis.asyncio``: submit, withdraw, read.

The same Lua scripts, given the same KEYS and ARGV (``store.Scripts``), and the same
reading of a record and of an output kept in parts (``store.decode_record``,
``parts.joined``) as ``RedisResultStore``: only the I/O awaits.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from worker.connections import AsyncLuaScript, reply_text
from worker.keys import Keys
from worker.results.parts import joined
from worker.results.store import WEBHOOK_FIELD, BrokerMessage, Scripts, decode_record
from worker.settings import DEFAULT_EVENTS_MAXLEN

if TYPE_CHECKING:
    import redis.asyncio


class AsyncResultStore:
    """Records, payloads and idempotency keys for an asyncio producer."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        keys: Keys,
        ttl_s: int,
        *,
        events_maxlen: int = DEFAULT_EVENTS_MAXLEN,
    ) -> None:
        self.client = client
        self.keys = keys
        self.scripts = Scripts(keys, ttl_s, events_maxlen)
        self._submit = AsyncLuaScript(client, "submit.lua")
        self._withdraw = AsyncLuaScript(client, "withdraw.lua")

    async def submit(
        self,
        record: dict[str, Any],
        operation: str,
        payload: dict[str, Any],
        idempotency_key: str | None = None,
        message: BrokerMessage | None = None,
    ) -> str:
        """As ``RedisResultStore.submit``: the job id the key names, else the record's."""
        owner = await self._submit(
            *self.scripts.submit(record, operation, payload, idempotency_key, message)
        )
        return reply_text(owner)

    async def withdraw(self, job_id: str, idempotency_key: str | None = None) -> None:
        await self._withdraw(*self.scripts.withdraw(job_id, idempotency_key))

    async def get(self, job_id: str) -> dict[str, Any] | None:
        """The record with its output whole, as ``RedisResultStore.get``, and a final
        one's webhook state (``webhook``) read with it, as ``Client.result`` shows it."""
        for _ in range(3):  # replaced between reading it and reading its parts: again
            raw, webhook = await self.client.hmget(self.keys.job(job_id), ["record", WEBHOOK_FIELD])
            if raw is None:
                return None
            record, marker = decode_record(raw, webhook)
            if marker is None:
                return record
            async with self.client.pipeline(transaction=False) as pipe:
                for n in range(marker.count):
                    pipe.get(self.keys.output_part(job_id, marker.write_id, n))
                text = joined(marker, await pipe.execute())
            if text is not None:
                record["output"] = json.loads(text)
                return record
        return None
