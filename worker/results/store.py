"""Where result records, submitted payloads and idempotency keys live.

A record is written at every status change and expires after the configured TTL. Once
a record is final (succeeded or failed) a late writer, such as a redelivered copy of
the same message, cannot turn it back: the status check and the write are one atomic
step (a Lua script in Redis). An output too large for one comfortable Redis value is
kept in parts (``parts.py``) written before the record; the record's write is still
the one atomic step that decides, and ``get`` returns the output whole.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Protocol

import redis

from worker.connections import reply_text
from worker.results.parts import DEFAULT_PART_BYTES, OutputParts, PartsMarker
from worker.results.record import FINAL_STATUSES
from worker.results.streamed import output_pieces, plain_output

# KEYS: the record hash, the failed-jobs index, then the parts of a large output (if
# any). ARGV: status, record JSON, TTL, force, job id, now (seconds), the parts' marker
# ('' for none). Failed jobs are indexed by time; entries older than the TTL (their
# records have expired) are trimmed whenever one is added. A refused write deletes its
# own parts; an accepted one gives them the record's TTL and returns the marker of the
# parts it replaced, for the caller to delete.
_PUT_UNLESS_FINAL = """
local status = redis.call('HGET', KEYS[1], 'status')
if status and (status == 'succeeded' or status == 'failed') and ARGV[4] ~= '1' then
  for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
  return {0, ''}
end
local replaced = redis.call('HGET', KEYS[1], 'parts') or ''
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'record', ARGV[2], 'parts', ARGV[7])
redis.call('EXPIRE', KEYS[1], ARGV[3])
for i = 3, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
if ARGV[1] == 'failed' then
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[6]) - tonumber(ARGV[3]))
else
  redis.call('ZREM', KEYS[2], ARGV[5])
end
return {1, replaced}
"""
#: The record's field naming the parts that hold its output (internal to this module).
_PARTS_FIELD = "_output_parts"


class ResultStore(Protocol):
    """Records, payloads and idempotency keys, each kept for ``ttl_s`` seconds."""

    ttl_s: int

    def get(self, job_id: str, *, read_output: bool = True) -> dict[str, Any] | None:
        """The record; with ``read_output=False`` an output kept in parts is left unread
        (``None``): enough for status checks, which must not load a gigabyte of vectors."""
        ...

    def put(self, record: dict[str, Any], *, force: bool = False) -> bool:
        """Write ``record``; refused (False) if the stored one is final, unless ``force``."""
        ...

    def save_payload(self, job_id: str, operation: str, payload: dict[str, Any]) -> None: ...

    def create(self, record: dict[str, Any], operation: str, payload: dict[str, Any]) -> None:
        """A new job's queued record and its stored payload."""
        ...

    def load_payload(self, job_id: str) -> tuple[str, dict[str, Any]] | None: ...

    def claim_idempotency_key(self, key: str, job_id: str) -> str | None:
        """Bind ``key`` to ``job_id``; return the job id it was already bound to, if any."""
        ...

    def failed_jobs(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recently failed jobs' records, newest first."""
        ...


class RedisResultStore:
    """Result records in Redis hashes ``{namespace}:job:{id}``.

    An output whose JSON text exceeds ``part_bytes`` is kept in parts (``parts.py``),
    written before the record; the record then holds ``"output": null`` and a marker
    naming the parts, and ``get`` puts the output back in place.
    """

    def __init__(
        self,
        client: redis.Redis,
        namespace: str,
        ttl_s: int,
        *,
        part_bytes: int = DEFAULT_PART_BYTES,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.ttl_s = ttl_s
        self.parts = OutputParts(client, namespace, part_bytes)
        self._put = client.register_script(_PUT_UNLESS_FINAL)

    def _key(self, kind: str, ident: str) -> str:
        return f"{self.namespace}:{kind}:{ident}"

    def get(self, job_id: str, *, read_output: bool = True) -> dict[str, Any] | None:
        # A record can be replaced between reading it and reading its parts (which the
        # replacing write deletes): then read the new record.
        for _ in range(3):
            raw = self.client.hget(self._key("job", job_id), "record")
            if raw is None:
                return None
            record: dict[str, Any] = json.loads(raw)
            marker = record.pop(_PARTS_FIELD, None)
            if marker is None or not read_output:
                return record
            text = self.parts.read(job_id, PartsMarker.from_dict(marker))
            if text is not None:
                record["output"] = json.loads(text)
                return record
        return None  # its parts keep vanishing: the record is expiring

    def put(self, record: dict[str, Any], *, force: bool = False) -> bool:
        job_id = record["job_id"]
        output = record.get("output")
        fields = {name: value for name, value in record.items() if name != "output"}
        marker: PartsMarker | None = None
        if output is None:
            text = json.dumps({**fields, "output": None})
        else:
            written = self.parts.write(job_id, output_pieces(output), self.ttl_s)
            if isinstance(written, PartsMarker):
                marker = written
                text = json.dumps({**fields, "output": None, _PARTS_FIELD: marker.as_dict()})
            else:
                # The output's text goes in as it is, as the record's last member.
                text = json.dumps(fields)[:-1] + ', "output": ' + written.decode() + "}"
        keys = [self._key("job", job_id), f"{self.namespace}:failed"]
        if marker is not None:
            keys += self.parts.keys(job_id, marker)
        args = [
            record["status"],
            text,
            self.ttl_s,
            "1" if force else "0",
            job_id,
            f"{time.time():.3f}",
            marker.encode() if marker else "",
        ]
        written_flag, replaced = self._put(keys=keys, args=args)
        if replaced:
            self.parts.delete(job_id, PartsMarker.decode(reply_text(replaced)))
        return bool(written_flag)

    def failed_jobs(self, limit: int = 100) -> list[dict[str, Any]]:
        job_ids = self.client.zrevrange(f"{self.namespace}:failed", 0, max(limit, 1) - 1)
        if not job_ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hget(self._key("job", reply_text(job_id)), "record")
        return [dict(json.loads(raw)) for raw in pipe.execute() if raw is not None]

    def save_payload(self, job_id: str, operation: str, payload: dict[str, Any]) -> None:
        body = json.dumps({"operation": operation, "payload": payload})
        self.client.set(self._key("payload", job_id), body, ex=self.ttl_s)

    def create(self, record: dict[str, Any], operation: str, payload: dict[str, Any]) -> None:
        # One round trip for both writes: submission is on the producer's hot path.
        job_id = record["job_id"]
        pipe = self.client.pipeline(transaction=False)
        self._put(
            keys=[self._key("job", job_id), f"{self.namespace}:failed"],
            args=[
                record["status"],
                json.dumps(record),
                self.ttl_s,
                "0",
                job_id,
                f"{time.time():.3f}",
                "",
            ],
            client=pipe,
        )
        body = json.dumps({"operation": operation, "payload": payload})
        pipe.set(self._key("payload", job_id), body, ex=self.ttl_s)
        pipe.execute()

    def load_payload(self, job_id: str) -> tuple[str, dict[str, Any]] | None:
        raw = self.client.get(self._key("payload", job_id))
        if raw is None:
            return None
        stored = json.loads(raw)
        return stored["operation"], stored["payload"]

    def claim_idempotency_key(self, key: str, job_id: str) -> str | None:
        redis_key = self._key("idempotency", key)
        if self.client.set(redis_key, job_id, nx=True, ex=self.ttl_s):
            return None
        existing = self.client.get(redis_key)
        if existing is None:  # expired between the two calls: claim again
            return self.claim_idempotency_key(key, job_id)
        return reply_text(existing)


class MemoryResultStore:
    """The in-memory stand-in for unit tests, with the same final-status rule."""

    def __init__(self, ttl_s: int = 3600) -> None:
        self.ttl_s = ttl_s
        self.records: dict[str, dict[str, Any]] = {}
        self.payloads: dict[str, tuple[str, dict[str, Any]]] = {}
        self.idempotency: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str, *, read_output: bool = True) -> dict[str, Any] | None:
        record = self.records.get(job_id)
        return None if record is None else json.loads(json.dumps(record))

    def put(self, record: dict[str, Any], *, force: bool = False) -> bool:
        with self._lock:
            current = self.records.get(record["job_id"])
            if current and current["status"] in FINAL_STATUSES and not force:
                return False
            stored = {**record, "output": plain_output(record.get("output"))}
            self.records[record["job_id"]] = json.loads(json.dumps(stored))
            return True

    def save_payload(self, job_id: str, operation: str, payload: dict[str, Any]) -> None:
        self.payloads[job_id] = (operation, json.loads(json.dumps(payload)))

    def create(self, record: dict[str, Any], operation: str, payload: dict[str, Any]) -> None:
        self.put(record)
        self.save_payload(record["job_id"], operation, payload)

    def load_payload(self, job_id: str) -> tuple[str, dict[str, Any]] | None:
        return self.payloads.get(job_id)

    def failed_jobs(self, limit: int = 100) -> list[dict[str, Any]]:
        failed = [r for r in self.records.values() if r["status"] == "failed"]
        failed.sort(key=lambda r: r["finished_at"] or "", reverse=True)
        return [json.loads(json.dumps(r)) for r in failed[:limit]]

    def claim_idempotency_key(self, key: str, job_id: str) -> str | None:
        with self._lock:
            existing = self.idempotency.get(key)
            if existing and existing[1] > time.monotonic():
                return existing[0]
            self.idempotency[key] = (job_id, time.monotonic() + self.ttl_s)
            return None
