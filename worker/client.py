"""The client producing apps use: submit a job, read its result, wait for it.

The CLI is built on it too. ``submit`` validates the payload first, so a bad payload
is a clear error to the caller and never reaches a worker; the worker validates again,
for producers that enqueue another way. A producer imports only what it needs to
enqueue: the catalogue and validation, the stores and the broker, never the engine that
runs operations (nor ``requests``).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import redis

from worker.batches import BatchGroups
from worker.configurations import ConfigurationStore, KeyRing, RedisBackend, SecretKeyError
from worker.connections import redis_client, resolve_redis_url
from worker.errors import CancelledError, ValidationError
from worker.keys import Keys
from worker.queue.broker import build_broker, job_message, queue_name, with_record
from worker.queue.dead_letters import DeadLetters
from worker.results import RedisResultStore, new_record
from worker.results.notices import POLL_FIRST_S, ThreadedSubscriber
from worker.results.store import batch_group
from worker.settings import Settings
from worker.submission import prepare

#: The fields of a batch group an operator sees, as stored.
GROUP_FIELDS = (
    "group",
    "configuration",
    "endpoint",
    "model",
    "state",
    "provider_status",
    "batch_id",
    "input_file_id",
    "output_file_id",
    "error_file_id",
    "failure",
)


def _iso(epoch: str | None) -> str | None:
    if not epoch:
        return None
    return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds")


class Client:
    """Submits jobs to, and reads results from, one Redis (``REDIS_URL`` or embedded)."""

    def __init__(self, settings: Settings | None = None, *, url: str | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.url = url or resolve_redis_url(self.settings)
        self.redis: redis.Redis = redis_client(self.url)
        self.keys = Keys(self.settings.namespace)
        self.results = RedisResultStore(
            self.redis,
            self.keys,
            self.settings.result_ttl_s,
            events_maxlen=self.settings.events_maxlen,
        )
        self._broker: Any = None
        self._subscriber: ThreadedSubscriber | None = None
        self._subscriber_lock = threading.Lock()

    @property
    def broker(self) -> Any:
        if self._broker is None:
            self._broker = build_broker(self.settings, self.url, for_workers=False)
        return self._broker

    def configurations(self) -> ConfigurationStore:
        """The configuration store; saving needs ``OPENAI_WORKER_SECRET_KEY``."""
        try:
            keyring: KeyRing | None = KeyRing(self.settings.secret_keys)
        except SecretKeyError:
            if self.settings.secret_keys:
                raise  # set but malformed: say so now
            keyring = None
        return ConfigurationStore(RedisBackend(self.redis, self.keys), keyring)

    def submit(
        self,
        operation: str,
        payload: dict[str, Any],
        *,
        validate: bool = True,
        tier: str | None = None,
        on_expiry: str = "standard",
    ) -> str:
        """Enqueue a job and return its id (the first job's id for a repeated idempotency key).

        ``tier="batch"`` sends its requests through the provider's Batch API (half the
        price, answers within 24 hours); ``on_expiry`` says what happens to requests a
        batch did not answer before it expired or was cancelled: ``standard`` sends them
        at once, ``fail`` fails the job. Without a tier, the configuration's default
        applies (``configure --default-tier``), else ``standard``.

        Raises ``ValidationError`` for an unknown operation, an oversized payload, a tier
        the operation cannot run in or, with ``validate``, a payload the operation's
        schema refuses.
        """
        job = prepare(
            self.settings, operation, payload, validate=validate, tier=tier, on_expiry=on_expiry
        )
        message = job_message(operation, job.job_id, payload, queue=queue_name(self.settings))
        queued = with_record(self.settings, self.broker, message)
        owner = self.results.submit(job.record, operation, payload, job.idempotency_key, queued)
        if owner != job.job_id or queued is not None:
            # The key names an earlier job (nothing was written), or the message went
            # with the record.
            return owner
        try:
            self.broker.enqueue(message)
        except BaseException:
            # No message, no job: the key must not name it for the TTL.
            self.results.withdraw(job.job_id, job.idempotency_key)
            raise
        return job.job_id

    def retry(self, job_id: str) -> str:
        """Run a failed job again from its stored payload, under the same job id.

        A compare-and-set on ``failed``: of several callers retrying at once, one
        re-runs the job and the others are told it is queued already.
        """
        record = self.results.get(job_id)
        stored = self.results.load_payload(job_id)
        if record is None or stored is None:
            raise ValidationError(f"job {job_id!r} is unknown or has expired; nothing to retry")
        operation, payload = stored
        fresh = new_record(job_id, operation, record.get("configuration"))
        found = self.results.requeue_failed(fresh)
        if found:
            raise ValidationError(f"job {job_id!r} is {found}; only failed jobs can be retried")
        try:
            self._enqueue(operation, job_id, payload)
        except BaseException:
            self.results.put(record, force=True)  # still failed, so it can be retried
            raise
        return job_id

    def _enqueue(self, operation: str, job_id: str, payload: Any) -> None:
        self.broker.enqueue(
            job_message(operation, job_id, payload, queue=queue_name(self.settings))
        )

    def replay_dead_letters(self, message_ids: list[str] | None = None) -> list[str]:
        """Enqueue dead-lettered messages again (all when ``message_ids`` is None)."""
        return self.dead_letters().replay(self._enqueue, message_ids)

    def failed(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recently failed jobs, newest first."""
        return self.results.failed_jobs(limit)

    def dead_letters(self) -> DeadLetters:
        return DeadLetters(self.redis, self.keys)

    def cancel(self, job_id: str) -> str:
        """Cancel a job that has not started: a queued one ends failed as ``cancelled``
        (its message is dropped when it arrives); a batched one fails so when its batch's
        answers come. Returns the status found; ``ValidationError`` when it is running,
        has ended or is unknown."""
        error = CancelledError("cancelled by an operator before it ran").as_dict()
        found = self.results.cancel(job_id, error)
        if found in ("queued", "retrying", "waiting", "batched"):
            return found
        if not found:
            raise ValidationError(f"job {job_id!r} is unknown or has expired")
        raise ValidationError(
            f"job {job_id!r} is {found}; only jobs not yet running can be cancelled"
        )

    def batch_groups(self, limit: int = 50) -> list[dict[str, Any]]:
        """The batch tier's groups, newest first: route, state, counts, provider ids."""
        groups = BatchGroups(self.redis, self.keys, self.settings.result_ttl_s).recent(limit)
        shown = []
        for group in groups:
            entry: dict[str, Any] = {name: group.get(name) for name in GROUP_FIELDS}
            for name in ("requests", "jobs", "answers"):
                entry[name] = int(group[name]) if group.get(name) else None
            entry["request_counts"] = json.loads(group.get("request_counts") or "null")
            for name in ("created_at", "sealed_at", "submitted_at", "finished_at"):
                entry[name] = _iso(group.get(name))
            shown.append(entry)
        return shown

    def result(self, job_id: str) -> dict[str, Any] | None:
        """The job's result record, or None if there is none (unknown or expired).

        A batched job's record shows its provider batch's latest ``request_counts``; a
        final one with a webhook shows what became of it (``webhook``).
        """
        record = self.results.get(job_id, with_webhook=True)
        group = batch_group(record)
        if record is not None and group is not None:
            counts = self.redis.hget(self.keys.batch_group(group), "request_counts")
            if counts:
                record["batch"]["request_counts"] = json.loads(counts)
        return record

    def wait(
        self, job_id: str, timeout_s: float, *, poll_s: float = POLL_FIRST_S
    ) -> dict[str, Any] | None:
        """The record once final, or the latest one when ``timeout_s`` runs out.

        Blocks on the job's ended channel (``worker.results.notices``: one subscriber
        connection per client, opened by the first wait): the record is read when the
        subscription is confirmed and when the job ends, not in between. Only while
        that connection cannot reach Redis is it read every ``poll_s`` (growing to a
        second) instead.
        """
        with self._subscriber_lock:
            if self._subscriber is None:
                self._subscriber = ThreadedSubscriber(self.url)
        return self._subscriber.wait(
            self.keys.job_ended(job_id), timeout_s, lambda: self.result(job_id), poll_s=poll_s
        )

    def close(self) -> None:
        if self._subscriber is not None:
            self._subscriber.close()
            self._subscriber = None
        self.redis.close()
        if self._broker is not None:
            self._broker.close()
