"""Groups of batch-tier requests, from the first request to the provider's answers.

A group holds the requests of one route (configuration, endpoint, model: a provider
batch file holds one model). Jobs add their requests to the route's open group in one
atomic step, which seals the group when it is full; a group not full is sealed when
its window has passed. A sealed group is driven by one step message: the first to
claim it with its token owns it (the same message, redelivered after its worker died or
put back to wait, claims it again), and any other step message for it is dropped.
Every step's progress is a field of the group's hash: a worker killed mid-step leaves
the group where its next delivery resumes.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from worker.connections import LuaScript, reply_text
from worker.keys import Keys
from worker.settings import BatchSettings

#: Lines and job ids read from Redis per round trip while writing a file or finishing.
READ_CHUNK = 1000


@dataclass(frozen=True)
class Route:
    """Where a group's requests go: one configuration, endpoint and model."""

    configuration: str
    endpoint: str
    model: str

    @property
    def digest(self) -> str:
        text = json.dumps([self.configuration, self.endpoint, self.model])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Added:
    """Where a job's requests went, and a group this addition sealed."""

    group: str
    created: bool
    sealed: str | None = None


def new_token() -> str:
    return uuid.uuid4().hex


class BatchGroups:
    """The groups of one namespace in Redis (``Keys.batch_*``)."""

    def __init__(self, client: redis.Redis, keys: Keys, ttl_s: int) -> None:
        self.client, self.keys, self.ttl_s = client, keys, ttl_s
        self._add = LuaScript(client, "batch_add.lua")
        self._seal = LuaScript(client, "batch_seal.lua")
        self._claim = LuaScript(client, "batch_claim.lua")

    def add(self, job_id: str, route: Route, lines: list[str], limits: BatchSettings) -> Added:
        """Put a job's request lines into its route's open group (once per job)."""
        found = self._add(
            keys=[
                self.keys.batch_open(route.digest),
                self.keys.batch_member(job_id),
                self.keys.batch_groups,
            ],
            args=[
                job_id,
                new_token(),
                f"{time.time():.3f}",
                limits.max_requests,
                limits.max_bytes,
                self.ttl_s,
                self.keys.batch_prefix,
                route.configuration,
                route.endpoint,
                route.model,
                *lines,
            ],
        )
        group, created, sealed = (reply_text(value) for value in found)
        return Added(group, created == "1", sealed or None)

    def seal(self, group_id: str, group: dict[str, str]) -> bool:
        """Seal the group if it is still open; whether this call sealed it."""
        route = Route(group["configuration"], group["endpoint"], group["model"])
        sealed = self._seal(
            keys=[self.keys.batch_group(group_id), self.keys.batch_open(route.digest)],
            args=[group_id, f"{time.time():.3f}"],
        )
        return bool(sealed)

    def claim(self, group_id: str, token: str) -> bool:
        """Whether the step message with ``token`` drives the group (first claim wins)."""
        return bool(self._claim(keys=[self.keys.batch_group(group_id)], args=[token]))

    def get(self, group_id: str) -> dict[str, str] | None:
        fields: dict[Any, Any] = self.client.hgetall(self.keys.batch_group(group_id))
        if not fields:
            return None
        return {reply_text(name): reply_text(value) for name, value in fields.items()}

    def update(self, group_id: str, **fields: str | int | float) -> None:
        mapping: dict[Any, Any] = {name: str(value) for name, value in fields.items()}
        self.client.hset(self.keys.batch_group(group_id), mapping=mapping)

    def member(self, job_id: str) -> str | None:
        """The group a job's requests went into, if any."""
        value = self.client.get(self.keys.batch_member(job_id))
        return None if value is None else reply_text(value)

    def lines(self, group_id: str) -> Iterator[bytes]:
        """The group's request lines in order, read a chunk at a time."""
        name = self.keys.batch_lines(group_id)
        start = 0
        while True:
            chunk: list[Any] = self.client.lrange(name, start, start + READ_CHUNK - 1)
            yield from (bytes(line) for line in chunk)
            if len(chunk) < READ_CHUNK:
                return
            start += READ_CHUNK

    def jobs(self, group_id: str) -> Iterator[list[str]]:
        """The group's job ids, a chunk at a time."""
        name = self.keys.batch_jobs(group_id)
        start = 0
        while True:
            chunk: list[Any] = self.client.lrange(name, start, start + READ_CHUNK - 1)
            if chunk:
                yield [reply_text(job_id) for job_id in chunk]
            if len(chunk) < READ_CHUNK:
                return
            start += READ_CHUNK

    def recent(self, limit: int = 50) -> list[dict[str, str]]:
        """The newest groups first, each with its id."""
        ids = [reply_text(g) for g in self.client.zrevrange(self.keys.batch_groups, 0, limit - 1)]
        found = []
        for group_id in ids:
            group = self.get(group_id)
            if group is not None:
                found.append({"group": group_id, **group})
        return found

    def retire(self, group_id: str) -> None:
        """A finished group: drop its lines and job list, keep its hash for the TTL."""
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.keys.batch_lines(group_id), self.keys.batch_jobs(group_id))
        pipe.expire(self.keys.batch_group(group_id), self.ttl_s)
        pipe.execute()
