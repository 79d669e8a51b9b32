"""Dead-lettered messages on the Redis broker: list them and put them back in the queue.

A message is dead-lettered only when something outside the job itself kept failing
(for example Redis refusing writes) more often than the actor's infrastructure retry
budget allows; job failures end as failed records instead. Dramatiq keeps such
messages for ``dead_message_ttl`` (7 days) in a sorted set and a hash under the broker
namespace; until then they can be replayed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from worker.connections import reply_text
from worker.keys import Keys


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    job_id: str | None
    operation: str
    dead_lettered_at_ms: int
    payload: Any

    def summary(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "job_id": self.job_id,
            "operation": self.operation,
            "dead_lettered_at_ms": self.dead_lettered_at_ms,
        }


class DeadLetters:
    """The dead-letter queue of the jobs queue in one namespace."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.ids_key = keys.dead_letters
        self.messages_key = keys.dead_letter_messages

    def entries(self, limit: int = 100) -> list[DeadLetter]:
        raw: Any = self.client.zrevrange(self.ids_key, 0, max(limit, 1) - 1, withscores=True)
        entries: list[tuple[Any, float]] = list(raw)
        if not entries:
            return []
        ids = [reply_text(member) for member, _ in entries]
        bodies = self.client.hmget(self.messages_key, ids)
        letters = []
        for (_, score), message_id, body in zip(entries, ids, bodies, strict=True):
            if body is None:
                continue
            message = json.loads(body)
            args = message.get("args") or [None, None]
            letters.append(
                DeadLetter(
                    message_id,
                    args[0],
                    message.get("actor_name", "?"),
                    int(score),
                    args[1] if len(args) > 1 else None,
                )
            )
        return letters

    def replay(
        self, enqueue: Callable[[str, str, Any], None], message_ids: list[str] | None = None
    ) -> list[str]:
        """Enqueue the named dead letters again (all when ``message_ids`` is None).

        ``enqueue(operation, job_id, payload)`` is the producer's own, so a replayed job
        travels exactly as a submitted one.
        """
        replayed = []
        for letter in self.entries(limit=100_000):
            if message_ids is not None and letter.message_id not in message_ids:
                continue
            if letter.job_id is None:
                continue
            enqueue(letter.operation, letter.job_id, letter.payload)
            self.client.zrem(self.ids_key, letter.message_id)
            self.client.hdel(self.messages_key, letter.message_id)
            replayed.append(letter.message_id)
        return replayed
