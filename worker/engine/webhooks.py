"""Webhooks: a finished job's record, POSTed to its ``callback_url``, signed, until delivered.

When a job ends (its final record written, whatever the status: succeeded, failed,
cancelled, refused by its schema), the runner hands it here. If the job has a callback
URL (its payload's ``callback_url``, else its configuration's), a delivery message goes
into the queue (``WebhookQueue``) carrying the job id and the webhook id, nothing else;
its actor calls ``deliver`` for one attempt, which reads the final record from Redis at
send time and says when to try again (``retries.WebhookRetries``: backoff with jitter
for up to 24 hours). A delivery never holds a job's thread and never runs a job again.

The webhook id is derived from the job id and the final record's ``finished_at``: a
redelivered message, a worker killed mid-attempt and a runner that finds the job final
again all send the same id (the receiver's key for ignoring duplicates); a job an
operator retried ends with a new one. The body follows the Standard Webhooks layout:
``{"type": "job.succeeded" | "job.failed", "timestamp": finished_at, "data": record}``,
the record as ``Client.result`` returns it (already redacted), its output left out
above ``OPENAI_WORKER_WEBHOOK_MAX_OUTPUT_BYTES`` (``output_omitted``) with
``links.result`` to fetch it from the HTTP API.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Any, Protocol

import structlog

from schemas.common import callback_url_problem
from worker.configurations import Configuration, ConfigurationStore
from worker.configurations.pool import Pool
from worker.errors import ConfigurationError, TransportError
from worker.results import FINAL_STATUSES, Deliveries, ResultStore, iso_after, now_iso
from worker.results.store import output_json
from worker.retries import WebhookRetries
from worker.settings import Settings
from worker.transport.callback import CallbackRefused, post
from worker.webhooks import signed_headers

log = structlog.get_logger("worker.webhooks")

CANNOT_SIGN = (
    "the job asks for a webhook (callback_url) but this worker has no "
    "OPENAI_WORKER_WEBHOOK_SECRET to sign it with; set it on every worker "
    "(`openai-worker webhook-secret` prints a new one)"
)


class WebhookQueue(Protocol):
    """What the queue does for webhooks (``worker.queue`` implements it)."""

    def deliver(self, job_id: str, webhook_id: str) -> None:
        """Send a delivery message for this job's webhook."""
        ...


def webhook_id(record: dict[str, Any]) -> str:
    """The id of a final record's webhook: the same for every attempt at it.

    SHA-1 because Redis's Lua has it (``webhook_begin.lua`` derives the same id to check
    an attempt against the record as it stands); an id, not a secret.
    """
    seed = f"{record['job_id']}\n{record.get('finished_at') or ''}".encode()
    return "msg_" + hashlib.sha1(seed, usedforsecurity=False).hexdigest()[:32]


def callback_url(payload: Any, target: Configuration | Pool | None) -> str | None:
    """Where a job's webhook goes: its payload's ``callback_url`` (none if that one is
    not a usable URL), else its configuration's; None for no webhook."""
    if isinstance(payload, dict) and "callback_url" in payload:
        url = payload["callback_url"]
        return url if callback_url_problem(url) is None else None
    return target.callback_url if isinstance(target, Configuration) else None


class Webhooks:
    """Queues the webhook of each job that ends, and makes each attempt at one."""

    def __init__(
        self,
        *,
        settings: Settings,
        results: ResultStore,
        deliveries: Deliveries,
        configurations: ConfigurationStore,
        queue: WebhookQueue,
        retries: WebhookRetries | None = None,
    ) -> None:
        self.settings = settings
        self.results = results
        self.deliveries = deliveries
        self.configurations = configurations
        self.queue = queue
        self.retries = retries or WebhookRetries.from_settings(settings)

    def job_ended(self, record: dict[str, Any], payload: Any, *, fresh: bool) -> None:
        """Queue the webhook of a job whose final record is ``record``.

        ``fresh``: this delivery of the job wrote that record. Otherwise the job was found
        final (a message delivered again after a crash, a cancelled job's message): its
        webhook is queued unless it was before.
        """
        job_id = record["job_id"]
        if payload is None:  # a batch-tier job handed back: its payload is stored
            stored = self.results.load_payload(job_id)
            payload = stored[1] if stored is not None else None
        url = self._url(payload, record.get("configuration"))
        if url is None:
            return
        hook = webhook_id(record)
        if not fresh:
            state = self.deliveries.state(job_id)
            if state is not None and state.get("id") == hook:
                return
        if not self.settings.webhooks.can_sign:
            self.deliveries.queued(job_id, hook, status="failed", last_error=CANNOT_SIGN)
            log.warning("webhook.not_sent", webhook_id=hook, reason=CANNOT_SIGN)
            return
        # Queued first, noted after: a crash between the two only sends it twice.
        self.queue.deliver(job_id, hook)
        self.deliveries.queued(job_id, hook)
        log.debug("webhook.queued", webhook_id=hook)

    def deliver(self, job_id: str, hook: str) -> float | None:
        """One attempt at a job's webhook; the seconds until the next, or None when done."""
        attempt = self.deliveries.begin(job_id, hook, now_iso())
        if attempt.outcome == "stale":
            log.warning(
                "webhook.dropped",
                webhook_id=hook,
                reason="the job's record expired, or the job was retried and ended anew",
            )
            return None
        if attempt.outcome == "ended":
            log.info("webhook.skipped", webhook_id=hook, reason="delivered or given up already")
            return None
        record, omitted = self.results.get_bounded(job_id, self.settings.webhooks.max_output_bytes)
        if record is None or record["status"] not in FINAL_STATUSES or webhook_id(record) != hook:
            log.warning("webhook.dropped", webhook_id=hook, reason="the record changed meanwhile")
            return None
        stored = self.results.load_payload(job_id)
        url = self._url(stored[1] if stored else None, record.get("configuration"))
        if url is None:
            self._give_up(job_id, hook, "the job's payload and configuration name no URL")
            return None
        if not self.settings.webhooks.can_sign:
            self._give_up(job_id, hook, CANNOT_SIGN)
            return None
        body = self.body(record, omitted)
        headers = signed_headers(self.settings.webhooks.secrets, hook, int(time.time()), body)
        timeout_s = self.settings.webhooks.timeout_s
        status: int | None = None
        wait_s: float | None = None
        try:
            answer = post(
                url,
                body,
                headers,
                allow_hosts=self.settings.webhooks.allow_hosts,
                connect_timeout_s=min(self.settings.connect_timeout_s, timeout_s),
                deadline_s=timeout_s,
            )
        except CallbackRefused as refused:
            self._give_up(job_id, hook, str(refused))
            return None
        except TransportError as failed:
            error = failed.message
        else:
            status, wait_s = answer.status, answer.retry_after_s
            if 200 <= status < 300:
                self.deliveries.note(
                    job_id,
                    hook,
                    status="delivered",
                    delivered_at=now_iso(),
                    last_status_code=status,
                    next_attempt_at=None,
                )
                log.info(
                    "webhook.delivered",
                    webhook_id=hook,
                    attempts=attempt.number,
                    status_code=status,
                )
                return None
            if status == 410:
                self._give_up(
                    job_id, hook, "the receiver answered 410 Gone", status="gone", code=status
                )
                return None
            error = f"the receiver answered HTTP {status}"
        elapsed_s = time.time() - _epoch(attempt.first_attempt_at)
        delay_s = self.retries.delay_s(attempt.number, elapsed_s, wait_s)
        if delay_s is None:
            self._give_up(
                job_id,
                hook,
                f"given up after {attempt.number} attempts in {elapsed_s:.0f} s; last: {error}",
                code=status,
            )
            return None
        self.deliveries.note(
            job_id,
            hook,
            status="retrying",
            last_error=error,
            last_status_code=status,
            next_attempt_at=iso_after(delay_s),
        )
        log.info(
            "webhook.retrying",
            webhook_id=hook,
            attempt=attempt.number,
            error=error,
            delay_s=round(delay_s, 3),
        )
        return delay_s

    def body(self, record: dict[str, Any], omitted: bool) -> bytes:
        """The signed body: the Standard Webhooks envelope around the record."""
        job_id = record["job_id"]
        base = self.settings.webhooks.public_api_url
        data = {
            **record,
            "output_omitted": omitted,
            "links": {"result": f"{base}/v1/jobs/{job_id}" if base else None},
        }
        envelope = {
            "type": f"job.{record['status']}",
            "timestamp": record.get("finished_at"),
            "data": data,
        }
        return output_json(envelope)

    def may_send(self, payload: Any) -> bool:
        """Whether a job of ``payload`` would have a webhook queued when it ends (a batch
        tier job handed back, whose payload is stored, may)."""
        if not isinstance(payload, dict):
            return True
        return self._url(payload, payload.get("configuration")) is not None

    def _url(self, payload: Any, configuration: Any) -> str | None:
        target: Configuration | Pool | None = None
        if not (isinstance(payload, dict) and "callback_url" in payload) and isinstance(
            configuration, str
        ):
            try:
                target = self.configurations.resolve(configuration)
            except ConfigurationError:
                target = None  # no such configuration (a refused job): no default either
        return callback_url(payload, target)

    def _give_up(
        self,
        job_id: str,
        hook: str,
        reason: str,
        *,
        status: str = "failed",
        code: int | None = None,
    ) -> None:
        self.deliveries.note(
            job_id,
            hook,
            status=status,
            last_error=reason,
            last_status_code=code,
            next_attempt_at=None,
        )
        log.warning("webhook.failed", webhook_id=hook, status=status, reason=reason)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
