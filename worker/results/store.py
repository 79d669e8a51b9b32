"""Where result records, submitted payloads and idempotency keys live.

A record is written at every status change and expires after the configured TTL. Once
a record is final (succeeded or failed) a late writer, such as a redelivered copy of
the same message, cannot turn it back: the status check and the write are one atomic
step (a Lua script in Redis). An output too large for one comfortable Redis value is
kept in parts (``parts.py``) written before the record; the record's write is still
the one atomic step that decides, and ``get`` returns the output whole.

Every change of status is also an event, in the same atomic step: an entry of the
namespace's events stream (``Keys.events``, capped at about ``events_maxlen``
entries) and, for a final status, a message on the job's ended channel
(``Keys.job_ended``) that ``notices.py`` hears for the waits of both clients. The
message carries the final record itself, as a waiter would read it (unless the record
is long or its output kept in parts), so a wait needs no read after it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import redis

from worker.connections import LuaScript, reply_text
from worker.keys import Keys
from worker.results.acks import DeliveryAck
from worker.results.parts import DEFAULT_PART_BYTES, OutputParts, PartsMarker
from worker.results.record import FINAL_STATUSES, in_field_order, now_iso
from worker.results.streamed import output_pieces, plain_output
from worker.settings import DEFAULT_EVENTS_MAXLEN


@dataclass(frozen=True)
class BrokerMessage:
    """A job's message as the Redis broker keeps it, for ``submit`` to write with the
    record (``worker.queue.wake`` builds it): the ready list and the hash of messages,
    the message's id and encoded data, and where to announce it to idle consumers."""

    queue: str
    messages: str
    message_id: str
    data: bytes
    wake_channel: str
    queue_name: str


#: The record hash's field holding the job's webhook delivery state (``deliveries``).
WEBHOOK_FIELD = "webhook"
#: The record's field naming the parts that hold its output (internal to this module).
_PARTS_FIELD = "_output_parts"
#: The longest record (JSON characters) published whole on the job's ended channel; a
#: longer one, or one kept in parts, is announced by its status alone and read.
NOTICE_RECORD_MAX_CHARS = 64 * 1024


def decode_record(
    raw: bytes | str, webhook: bytes | str | None = None
) -> tuple[dict[str, Any], PartsMarker | None]:
    """A stored record in the usual field order, and the marker of its output's parts
    (``None`` when the output is inside it). With ``webhook``, the hash's
    ``WEBHOOK_FIELD``, a final record shows its webhook state as ``webhook``: the record
    a producer is shown."""
    record: dict[str, Any] = in_field_order(json.loads(raw))
    marker = record.pop(_PARTS_FIELD, None)
    if webhook is not None and record["status"] in FINAL_STATUSES:
        record["webhook"] = json.loads(webhook)
    return record, None if marker is None else PartsMarker.from_dict(marker)


def batch_group(record: dict[str, Any] | None) -> str | None:
    """The batch group whose provider counts a batched job's record shows, if any."""
    batch = record.get("batch") if record else None
    if record and isinstance(batch, dict) and record["status"] == "batched":
        group = batch.get("group")
        return str(group) if group else None
    return None


class Scripts:
    """What the store's Lua scripts are given (KEYS and ARGV), built in one place for
    the blocking store here and the asyncio one (``async_store.py``)."""

    def __init__(self, keys: Keys, ttl_s: int, events_maxlen: int) -> None:
        self.keys = keys
        self.ttl_s = ttl_s
        self.events_maxlen = events_maxlen

    def _claim(self, job_id: str, idempotency_key: str | None) -> list[str]:
        payload = self.keys.payload(job_id)
        claim = self.keys.idempotency(idempotency_key) if idempotency_key else payload
        return [claim, self.keys.job(job_id), payload, self.keys.recent, self.keys.events]

    def submit(
        self,
        record: dict[str, Any],
        operation: str,
        payload: dict[str, Any],
        idempotency_key: str | None,
        message: BrokerMessage | None = None,
    ) -> tuple[list[str], list[Any]]:
        """``submit.lua``: the key, the record, the payload, the index and the event; with
        ``message``, the job's message on the Redis broker too."""
        job_id = record["job_id"]
        keys = self._claim(job_id, idempotency_key)
        args: list[Any] = [
            job_id,
            json.dumps(record),
            json.dumps({"operation": operation, "payload": payload}),
            self.ttl_s,
            "1" if idempotency_key else "0",
            f"{time.time():.3f}",
            self.events_maxlen,
            operation,
            record.get("configuration") or "",
        ]
        if message is not None:
            keys += [message.queue, message.messages]
            args += [message.message_id, message.data, message.wake_channel, message.queue_name]
        return keys, args

    def withdraw(self, job_id: str, idempotency_key: str | None) -> tuple[list[str], list[Any]]:
        """``withdraw.lua``: the submission's keys, taken back."""
        return self._claim(job_id, idempotency_key), [
            job_id,
            "1" if idempotency_key else "0",
            self.events_maxlen,
        ]


class ResultStore(Protocol):
    """Records, payloads and idempotency keys, each kept for ``ttl_s`` seconds."""

    ttl_s: int

    def get(self, job_id: str, *, read_output: bool = True) -> dict[str, Any] | None:
        """The record; with ``read_output=False`` an output kept in parts is left unread
        (``None``): enough for status checks, which must not load a gigabyte of vectors."""
        ...

    def get_bounded(self, job_id: str, max_output_bytes: int) -> tuple[dict[str, Any] | None, bool]:
        """The record, and whether its output was left out (``None``) for being over
        ``max_output_bytes`` of JSON text: a webhook's read, which must not load a
        gigabyte of vectors to send none of them."""
        ...

    def put(
        self, record: dict[str, Any], *, force: bool = False, ack: DeliveryAck | None = None
    ) -> bool:
        """Write ``record``; refused (False) if the stored one is final, unless ``force``.

        With ``ack``, a final ``record`` also acknowledges that delivery's message, in the
        same step (``acks``); told through ``ack.acknowledged`` once done.
        """
        ...

    def start(self, job_id: str, now: str) -> tuple[dict[str, Any] | None, bool]:
        """The record, read and, if freshly queued, marked running in the same step.

        Returns the record (as stored after the call; ``None`` without one, and an
        output kept in parts left unread) and whether this call started it: status
        ``running``, ``attempts`` 1, ``started_at`` ``now``. Any other record is returned
        as it is, for the caller to decide.
        """
        ...

    def submit(
        self,
        record: dict[str, Any],
        operation: str,
        payload: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> str:
        """A new job's idempotency key, queued record and payload, in one step.

        Returns the job id the key already names (then nothing is written), else the
        record's own.
        """
        ...

    def withdraw(self, job_id: str, idempotency_key: str | None = None) -> None:
        """Take back a submission whose message could not be enqueued."""
        ...

    def merge_batch(
        self, job_ids: list[str], fields: dict[str, Any], status: str | None = None
    ) -> list[str]:
        """Merge ``fields`` into the ``batch`` object of these jobs' records (and move
        queued or batched ones to ``status``); each job's operation, or "" for a job that
        has ended or has no record (left as it is)."""
        ...

    def cancel(self, job_id: str, error: dict[str, Any]) -> str:
        """End a job that has not started running as failed with ``error``; flag a
        batched one. The status found ("" without a record)."""
        ...

    def statuses(self, job_ids: list[str]) -> list[str | None]:
        """Each job's status (None without a record), read in one round trip."""
        ...

    def requeue_failed(self, record: dict[str, Any]) -> str:
        """Replace a failed job's record with ``record`` (queued) and drop its ledger.

        Returns ``""`` when done, else the status found instead of ``failed``
        (``"missing"`` without a record): a compare-and-set, so one of two callers wins.
        """
        ...

    def load_payload(self, job_id: str) -> tuple[str, dict[str, Any]] | None: ...

    def failed_jobs(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recently failed jobs' records, newest first, without outputs."""
        ...

    def recent_jobs(self, limit: int) -> list[dict[str, Any]]:
        """The most recently submitted jobs' records, newest first, without outputs."""
        ...


class RedisResultStore:
    """Result records in Redis hashes (``Keys.job``).

    An output whose JSON text exceeds ``part_bytes`` is kept in parts (``parts.py``),
    written before the record; the record then holds ``"output": null`` and a marker
    naming the parts, and ``get`` puts the output back in place.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        ttl_s: int,
        *,
        part_bytes: int = DEFAULT_PART_BYTES,
        events_maxlen: int = DEFAULT_EVENTS_MAXLEN,
    ) -> None:
        self.client = client
        self.keys = keys
        self.ttl_s = ttl_s
        self.events_maxlen = events_maxlen
        self.scripts = Scripts(keys, ttl_s, events_maxlen)
        self.parts = OutputParts(client, keys, part_bytes)
        # KEYS, ARGV and what they return: the scripts in worker/lua/.
        self._put = LuaScript(client, "put_unless_final.lua")
        self._submit = LuaScript(client, "submit.lua")
        self._withdraw = LuaScript(client, "withdraw.lua")
        self._requeue_failed = LuaScript(client, "requeue_failed.lua")
        self._start = LuaScript(client, "start.lua")
        self._merge_batch = LuaScript(client, "batch_mark.lua")
        self._cancel = LuaScript(client, "cancel.lua")

    def get(
        self, job_id: str, *, read_output: bool = True, with_webhook: bool = False
    ) -> dict[str, Any] | None:
        """As ``ResultStore.get``; ``with_webhook`` adds a final record's webhook state
        (``webhook``), read in the same round trip: the record a producer is shown."""
        # A record can be replaced between reading it and reading its parts (which the
        # replacing write deletes): then read the new record.
        for _ in range(3):
            if with_webhook:
                raw, webhook = self.client.hmget(self.keys.job(job_id), ["record", WEBHOOK_FIELD])
            else:
                raw, webhook = self.client.hget(self.keys.job(job_id), "record"), None
            if raw is None:
                return None
            record, marker = decode_record(raw, webhook)
            if marker is None or not read_output:
                return record
            text = self.parts.read(job_id, marker)
            if text is not None:
                record["output"] = json.loads(text)
                return record
        return None  # its parts keep vanishing: the record is expiring

    def get_bounded(self, job_id: str, max_output_bytes: int) -> tuple[dict[str, Any] | None, bool]:
        raw = self.client.hget(self.keys.job(job_id), "record")
        if raw is None:
            return None, False
        record: dict[str, Any] = in_field_order(json.loads(raw))
        marker = record.pop(_PARTS_FIELD, None)
        if marker is not None:
            if PartsMarker.from_dict(marker).bytes > max_output_bytes:
                return record, True
            whole = self.get(job_id)  # a limit above the part size: read it whole
            return whole, False
        return _bounded(record, max_output_bytes)

    def put(
        self, record: dict[str, Any], *, force: bool = False, ack: DeliveryAck | None = None
    ) -> bool:
        job_id = record["job_id"]
        if record["status"] not in FINAL_STATUSES:
            ack = None  # a message is acknowledged only with its job's final record
        output = record.get("output")
        fields = {name: value for name, value in record.items() if name != "output"}
        marker: PartsMarker | None = None
        # What lists show (the overview, failed jobs): the record without its output.
        summary = json.dumps({**fields, "output": None})
        if output is None:
            text = summary
        else:
            written = self.parts.write(job_id, output_pieces(output), self.ttl_s)
            if isinstance(written, PartsMarker):
                marker = written
                text = json.dumps({**fields, "output": None, _PARTS_FIELD: marker.as_dict()})
            else:
                # The output's text goes in as it is, as the record's last member.
                text = summary[: -len("null}")] + written.decode() + "}"
        keys = [self.keys.job(job_id), self.keys.failed, self.keys.events]
        if ack is not None:
            keys += [ack.acks_key, ack.messages_key]
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
            summary,
            self.events_maxlen,
            self.keys.job_ended(job_id),
            record["operation"],
            record.get("configuration") or "",
            ack.message_id if ack is not None else "",
            "1" if marker is None and len(text) <= NOTICE_RECORD_MAX_CHARS else "",
        ]
        written_flag, replaced = self._put(keys=keys, args=args)
        if ack is not None:
            ack.acknowledged(ack.message_id)
        if replaced:
            self.parts.delete(job_id, PartsMarker.decode(reply_text(replaced)))
        return bool(written_flag)

    def start(self, job_id: str, now: str) -> tuple[dict[str, Any] | None, bool]:
        found = self._start(
            keys=[self.keys.job(job_id), self.keys.events],
            args=[now, self.ttl_s, self.events_maxlen],
        )
        if not found:
            return None, False
        started, raw = found
        record: dict[str, Any] = json.loads(raw)
        record.pop(_PARTS_FIELD, None)
        # A record the script rewrote comes back in Lua's key order: restore the usual
        # one, which the final write keeps.
        return (in_field_order(record) if started else record), bool(started)

    def failed_jobs(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._summaries(self.keys.failed, limit)

    def recent_jobs(self, limit: int) -> list[dict[str, Any]]:
        return self._summaries(self.keys.recent, limit)

    def _summaries(self, index: str, limit: int) -> list[dict[str, Any]]:
        """The records an index names, newest first, without their outputs."""
        job_ids = self.client.zrevrange(index, 0, max(limit, 1) - 1)
        if not job_ids:
            return []
        names = [self.keys.job(reply_text(job_id)) for job_id in job_ids]
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.hget(name, "summary")
        summaries = pipe.execute()
        # Records written before summaries existed: read whole (outputs and all).
        older = [name for name, summary in zip(names, summaries, strict=True) if summary is None]
        if older:
            pipe = self.client.pipeline(transaction=False)
            for name in older:
                pipe.hget(name, "record")
            whole = dict(zip(older, pipe.execute(), strict=True))
            pairs = zip(names, summaries, strict=True)
            summaries = [summary or whole[name] for name, summary in pairs]
        return [{**json.loads(raw), "output": None} for raw in summaries if raw is not None]

    def submit(
        self,
        record: dict[str, Any],
        operation: str,
        payload: dict[str, Any],
        idempotency_key: str | None = None,
        message: BrokerMessage | None = None,
    ) -> str:
        """Write the queued job; with ``message``, its message on the Redis broker too.

        One round trip, and all or nothing: a key never names a job that has no record,
        and a message is never queued without its record (nor when the key names an
        earlier job).
        """
        return reply_text(
            self._submit(*self.scripts.submit(record, operation, payload, idempotency_key, message))
        )

    def withdraw(self, job_id: str, idempotency_key: str | None = None) -> None:
        self._withdraw(*self.scripts.withdraw(job_id, idempotency_key))

    def merge_batch(
        self, job_ids: list[str], fields: dict[str, Any], status: str | None = None
    ) -> list[str]:
        if not job_ids:
            return []
        found = self._merge_batch(
            keys=[self.keys.events, *(self.keys.job(job_id) for job_id in job_ids)],
            args=[json.dumps(fields), status or "", self.ttl_s, self.events_maxlen],
        )
        return [reply_text(operation) for operation in found]

    def statuses(self, job_ids: list[str]) -> list[str | None]:
        pipe = self.client.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hget(self.keys.job(job_id), "status")
        return [None if status is None else reply_text(status) for status in pipe.execute()]

    def cancel(self, job_id: str, error: dict[str, Any]) -> str:
        found = self._cancel(
            keys=[self.keys.job(job_id), self.keys.failed, self.keys.events],
            args=[
                json.dumps(error),
                now_iso(),
                f"{time.time():.3f}",
                self.ttl_s,
                self.events_maxlen,
                self.keys.job_ended(job_id),
            ],
        )
        return reply_text(found)

    def requeue_failed(self, record: dict[str, Any]) -> str:
        job_id = record["job_id"]
        found = self._requeue_failed(
            keys=[
                self.keys.job(job_id),
                self.keys.failed,
                self.keys.ledger(job_id),
                self.keys.events,
            ],
            args=[
                json.dumps(record),
                self.ttl_s,
                job_id,
                self.events_maxlen,
                record["operation"],
                record.get("configuration") or "",
            ],
        )
        return reply_text(found)

    def load_payload(self, job_id: str) -> tuple[str, dict[str, Any]] | None:
        raw = self.client.get(self.keys.payload(job_id))
        if raw is None:
            return None
        stored = json.loads(raw)
        return stored["operation"], stored["payload"]


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

    def get_bounded(self, job_id: str, max_output_bytes: int) -> tuple[dict[str, Any] | None, bool]:
        record = self.get(job_id)
        return (None, False) if record is None else _bounded(record, max_output_bytes)

    def put(
        self, record: dict[str, Any], *, force: bool = False, ack: DeliveryAck | None = None
    ) -> bool:
        # No broker keeps messages here: there is nothing to acknowledge.
        with self._lock:
            current = self.records.get(record["job_id"])
            if current and current["status"] in FINAL_STATUSES and not force:
                return False
            stored = {**record, "output": plain_output(record.get("output"))}
            self.records[record["job_id"]] = json.loads(json.dumps(stored))
            return True

    def start(self, job_id: str, now: str) -> tuple[dict[str, Any] | None, bool]:
        with self._lock:
            record = self.records.get(job_id)
            if record is None:
                return None, False
            fresh = record["status"] == "queued" and record["attempts"] == 0
            # As start.lua: only a record of plain values (a batch-tier job's has its
            # ``batch``) is marked running here; any other goes back to the runner as is.
            plain = not any(isinstance(value, dict | list) for value in record.values())
            if fresh and plain and record.get("started_at") is None:
                record.update(status="running", attempts=1, started_at=now)
                return json.loads(json.dumps(record)), True
            return json.loads(json.dumps(record)), False

    def submit(
        self,
        record: dict[str, Any],
        operation: str,
        payload: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> str:
        with self._lock:
            if idempotency_key:
                existing = self.idempotency.get(idempotency_key)
                if existing and existing[1] > time.monotonic():
                    return existing[0]
                self.idempotency[idempotency_key] = (
                    record["job_id"],
                    time.monotonic() + self.ttl_s,
                )
            self.records[record["job_id"]] = json.loads(json.dumps(record))
            self.payloads[record["job_id"]] = (operation, json.loads(json.dumps(payload)))
        return str(record["job_id"])

    def withdraw(self, job_id: str, idempotency_key: str | None = None) -> None:
        with self._lock:
            if idempotency_key and self.idempotency.get(idempotency_key, ("",))[0] == job_id:
                del self.idempotency[idempotency_key]
            self.records.pop(job_id, None)
            self.payloads.pop(job_id, None)

    def merge_batch(
        self, job_ids: list[str], fields: dict[str, Any], status: str | None = None
    ) -> list[str]:
        found = []
        with self._lock:
            for job_id in job_ids:
                record = self.records.get(job_id)
                if record is None or record["status"] in FINAL_STATUSES:
                    found.append("")
                    continue
                record["batch"] = {**(record.get("batch") or {}), **json.loads(json.dumps(fields))}
                if status and record["status"] in ("queued", "batched"):
                    record["status"] = status
                found.append(str(record["operation"]))
        return found

    def statuses(self, job_ids: list[str]) -> list[str | None]:
        with self._lock:
            found = [self.records.get(job_id) for job_id in job_ids]
        return [None if record is None else str(record["status"]) for record in found]

    def cancel(self, job_id: str, error: dict[str, Any]) -> str:
        with self._lock:
            record = self.records.get(job_id)
            if record is None:
                return ""
            status = str(record["status"])
            if status == "batched":
                record["batch"] = {**(record.get("batch") or {}), "cancelled": True}
            elif status in ("queued", "retrying", "waiting"):
                record.update(
                    status="failed",
                    success=False,
                    error=error,
                    finished_at=now_iso(),
                    retry_at=None,
                )
            return status

    def requeue_failed(self, record: dict[str, Any]) -> str:
        with self._lock:
            current = self.records.get(record["job_id"])
            if current is None or current["status"] != "failed":
                return "missing" if current is None else str(current["status"])
            self.records[record["job_id"]] = json.loads(json.dumps(record))
            return ""

    def load_payload(self, job_id: str) -> tuple[str, dict[str, Any]] | None:
        return self.payloads.get(job_id)

    def failed_jobs(self, limit: int = 100) -> list[dict[str, Any]]:
        failed = [r for r in self.records.values() if r["status"] == "failed"]
        failed.sort(key=lambda r: r["finished_at"] or "", reverse=True)
        return [json.loads(json.dumps(r)) for r in failed[:limit]]

    def recent_jobs(self, limit: int) -> list[dict[str, Any]]:
        records = sorted(
            self.records.values(), key=lambda r: r.get("enqueued_at") or "", reverse=True
        )
        return [{**json.loads(json.dumps(r)), "output": None} for r in records[:limit]]


def _bounded(record: dict[str, Any], max_output_bytes: int) -> tuple[dict[str, Any], bool]:
    """``record``, its output left out (and True) when its JSON text is over the bound."""
    output = record.get("output")
    if output is None or len(output_json(output)) <= max_output_bytes:
        return record, False
    return {**record, "output": None}, True


def output_json(output: Any) -> bytes:
    """An output as the compact JSON a webhook carries (and measures it by)."""
    return json.dumps(output, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
