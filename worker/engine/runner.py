"""The job runner: one delivery of one job, from its record to its final status.

Validate, call through the operation, write the record at every status change, and
decide with the retry policy whether to try again. Free of Dramatiq: the actor hands in
the job, and gets back ``Done`` or ``RetryLater(delay_s)``, which it turns into a
delayed re-enqueue. (``services`` builds the runner once per worker process.)

Every delivery opens the job's call ledger (``worker.ledger``): answers of earlier
deliveries are replayed, and before the job goes back in line (a retry, a wait for
rate-limit capacity) the answers of this one are made durable. A job ends with its
ledger dropped. A final record Redis refuses is written again within the delivery;
meanwhile the outcome is kept in the ledger, so a later delivery writes it instead of
calling the provider again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from worker.configurations import Configuration, ConfigurationStore
from worker.configurations.pool import Pool
from worker.engine.batch_tier import AnsweringClient, BatchAdmission, BatchEnd
from worker.engine.clients import ClientFactory
from worker.engine.pool_client import PoolClient
from worker.engine.webhooks import CANNOT_SIGN, Webhooks, callback_url
from worker.errors import (
    ConfigurationError,
    InternalError,
    RateLimitError,
    ValidationError,
    WorkerError,
)
from worker.functions import FunctionRegistry
from worker.ledger import JobLedger, Ledgers, MemoryLedgerBackend
from worker.observer import JobObserver, NullObserver
from worker.operations import OPERATIONS, JobContext, Operation
from worker.pools import PoolRouter
from worker.ratelimit import Limiter, NoLimit, RateLimited
from worker.redaction import redact
from worker.results import (
    FINAL_STATUSES,
    ResultStore,
    StreamedOutput,
    iso_after,
    new_record,
    now_iso,
)
from worker.results.acks import DELIVERY
from worker.retries import FINAL_WRITE, FinalWriteRetries, RetryPolicy
from worker.settings import Settings
from worker.transport import HttpClient
from worker.turns import TURNS
from worker.validation import batch_refusal, check_tier, validate_payload

log = structlog.get_logger("worker.runner")


@dataclass(frozen=True)
class Done:
    """The job reached a final status (or was already final)."""

    status: str
    #: The final record found or written (None: not final, or another delivery wrote it).
    record: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    #: Whether this delivery wrote that final record.
    ended: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class RetryLater:
    """Run the job again after ``delay_s`` seconds."""

    delay_s: float


Decision = Done | RetryLater


class JobRunner:
    """Runs deliveries of jobs against the stores, the provider and the policy."""

    def __init__(
        self,
        *,
        settings: Settings,
        results: ResultStore,
        configurations: ConfigurationStore,
        http: HttpClient,
        functions: FunctionRegistry,
        policy: RetryPolicy | None = None,
        operations: dict[str, Operation] | None = None,
        observer: JobObserver | None = None,
        limiter_for: Callable[[Configuration], Limiter] | None = None,
        ledgers: Ledgers | None = None,
        final_write: FinalWriteRetries = FINAL_WRITE,
        batch: BatchAdmission | None = None,
        router: PoolRouter | None = None,
        webhooks: Webhooks | None = None,
    ) -> None:
        self.settings = settings
        self.results = results
        self.configurations = configurations
        self.http = http
        self.functions = functions
        self.policy = policy or RetryPolicy.from_settings(settings)
        self.operations = OPERATIONS if operations is None else operations
        self.observer: JobObserver = observer or NullObserver()
        self.limiter_for = limiter_for or (lambda configuration: NoLimit())
        self.ledgers = ledgers or Ledgers(MemoryLedgerBackend())
        self.final_write = final_write
        #: The batch tier (None: batch-tier jobs fail with a configuration error).
        self.batch = batch
        #: Webhooks of jobs that end (None: none are sent, as in unit tests).
        self.webhooks = webhooks
        self._stored_configurations: set[str] = set()
        self.clients = ClientFactory(configurations, http, self.limiter_for, router)

    def _labels(self, record: dict[str, Any]) -> tuple[str, str | None]:
        """A record's operation and configuration as metric labels, from bounded sets."""
        operation = record["operation"] if record["operation"] in self.operations else "unknown"
        configuration = record.get("configuration")
        if configuration is None:
            return operation, None
        if not isinstance(configuration, str):
            return operation, "unknown"
        if configuration not in self._stored_configurations:
            # A job that failed before its configuration was loaded (a payload refused):
            # stored ones keep their name, any other name a payload holds is "unknown".
            try:
                if self.configurations.exists(configuration):
                    self._stored_configurations.add(configuration)
            except Exception as exc:  # noqa: BLE001 - a label is never a reason to fail a job
                log.debug("job.label_unchecked", error=type(exc).__name__)
        known = configuration in self._stored_configurations
        return operation, configuration if known else "unknown"

    def run(self, job_id: str, operation_name: str, payload: Any) -> Decision:
        """Run one delivery; never raises for anything a job can do wrong.

        A job that ends, or is found ended, has its webhook queued (``webhooks``): a crash
        after its final record was written and before that leaves the message to be
        delivered again, and the runner, finding the job final, queues the webhook then.
        """
        # The final write acknowledges the message too, unless a webhook is to be queued
        # after it (``results.acks``).
        token = DELIVERY.set(None) if self._webhook_due(payload) else None
        try:
            decision = self._run(job_id, operation_name, payload)
        finally:
            if token is not None:
                DELIVERY.reset(token)
        if (
            self.webhooks is not None
            and isinstance(decision, Done)
            and decision.record is not None
            and decision.status in FINAL_STATUSES
        ):
            self.webhooks.job_ended(decision.record, payload, fresh=decision.ended)
        return decision

    def _webhook_due(self, payload: Any) -> bool:
        """Whether the job may have a webhook to queue when it ends."""
        if self.webhooks is None or DELIVERY.get() is None:
            return False
        try:
            return self.webhooks.may_send(payload)
        except Exception:  # the configuration could not be read: assume it may
            return True

    def _run(self, job_id: str, operation_name: str, payload: Any) -> Decision:
        """One delivery, up to its decision.

        Attempts are counted in the record, so a delivery that died with its worker
        (the record still says ``running``) counts too, and a job that keeps killing
        its workers ends as failed instead of looping forever. Waiting for rate-limit
        capacity is not an attempt, but its total is bounded.
        """
        # A freshly queued job is read and marked running in one step; any other record
        # comes back as it is (status only: a finished job's output may be a gigabyte).
        record, fresh = self.results.start(job_id, now_iso())
        if fresh:
            assert record is not None
            ledger = self.ledgers.for_delivery(job_id, known_empty=True)
            retries_done = 0
        else:
            if record is None:  # expired, or enqueued by hand: start a record now
                configuration = payload.get("configuration") if isinstance(payload, dict) else None
                name = configuration if isinstance(configuration, str) else None
                record = new_record(job_id, operation_name, name)
            if record["status"] in FINAL_STATUSES:
                log.info("job.skipped", reason="already final", status=record["status"])
                return Done(record["status"], record)
            if payload is None:  # a batch-tier job handed back: its payload is stored
                stored = self.results.load_payload(job_id)
                payload = stored[1] if stored is not None else None
            if record.get("tier") == "batch" and not (record.get("batch") or {}).get("ended"):
                return self._admit(record, operation_name, payload)
            # Only a delivery that went back in line leaves answers behind.
            ledger = self.ledgers.for_delivery(
                job_id, known_empty=record["status"] == "queued" and record["attempts"] == 0
            )
            retries_done = record["attempts"]
            if record["status"] == "running":
                decision = self._after_interruption(record, ledger)
                if decision is not None:
                    return decision
            record.update(status="running", attempts=retries_done + 1, retry_at=None)
            record["started_at"] = record["started_at"] or now_iso()
            self.results.put(record)
        log.debug("job.started", attempt=record["attempts"])

        started = time.perf_counter()
        try:
            outcome = self._execute(job_id, operation_name, payload, ledger, record)
        except ToBatchTier:
            record.update(tier="batch", batch={"on_expiry": "standard"})
            record.update(status="queued", attempts=0, started_at=None)
            return self._admit(record, operation_name, payload)
        except RateLimited as wait:
            return self._wait_for_capacity(record, retries_done, wait, ledger)
        except WorkerError as exc:
            elapsed = time.perf_counter() - started
            return self._failed_attempt(record, exc, retries_done, payload, elapsed, ledger)
        except Exception as exc:  # a bug must fail the job, not the worker
            log.exception("job.internal_error")
            error = InternalError(f"internal error: {type(exc).__name__}: {exc}")
            elapsed = time.perf_counter() - started
            return self._finish(record, error=error, duration_s=elapsed, ledger=ledger)

        record.update(output=_redacted_output(outcome.output), usage=outcome.usage)
        elapsed = time.perf_counter() - started
        return self._finish(record, duration_s=elapsed, ledger=ledger)

    def _after_interruption(self, record: dict[str, Any], ledger: JobLedger) -> Decision | None:
        """A delivery found the job ``running``: its last delivery ended without a word."""
        kept = self._kept_outcome(ledger)
        if kept is not None:
            # It finished, but its final record could not be written: write it now.
            log.info("job.outcome_recovered", attempt=record["attempts"])
            error = kept.get("error")
            record.update(output=kept.get("output"), usage=kept.get("usage"))
            return self._finish(
                record,
                error=WorkerError.from_dict(error) if error else None,
                duration_s=0.0,
                ledger=ledger,
            )
        log.warning(
            "job.redelivered",
            reason="a worker stopped while running it",
            attempt=record["attempts"] + 1,
        )
        # A crash is not the job's fault, so even a job without retries runs again;
        # only one that keeps taking its workers down is given up.
        if self.policy.gives_up_after_interruption(record["attempts"]):
            record["attempts"] += 1
            error = InternalError(
                f"the job was interrupted {record['attempts'] - 1} times (its worker crashed "
                "or was killed while running it); not trying again"
            )
            return self._finish(record, error=error, duration_s=0.0, ledger=ledger)
        return None

    def _execute(
        self,
        job_id: str,
        operation_name: str,
        payload: Any,
        ledger: JobLedger,
        record: dict[str, Any],
    ) -> Any:
        operation, data, configuration = self._load(operation_name, payload)
        if (
            isinstance(configuration, Configuration)
            and configuration.default_tier == "batch"
            and "tier" not in record
            and self.batch is not None
            and batch_refusal(operation.name, operation.spec.not_batchable, data) is None
        ):
            raise ToBatchTier
        # Metric labels name only configurations that exist (a payload may name anything).
        self._stored_configurations.add(configuration.name)
        self.observer.job_started(operation.name, configuration.name)
        client = self.clients.for_target(
            configuration, self.settings.read_timeout_s(operation.spec.timeout), self.observer
        )
        end = BatchEnd.of(record)
        if end is not None:  # a batch-tier job handed back: its answers are in the ledger
            client = AnsweringClient(client, ledger, end)
        context = JobContext(
            job_id=job_id,
            client=client,
            functions=self.functions,
            settings=self.settings,
            http=self.http,
            log=log,
            calls=ledger.calls(),
        )
        try:
            return operation.run(context, data)
        finally:
            if isinstance(client, PoolClient):
                record["served_by"] = list(client.served)

    def _load(
        self, operation_name: str, payload: Any
    ) -> tuple[Operation, Any, Configuration | Pool]:
        """The operation, the validated payload and its configuration or pool."""
        operation = self.operations.get(operation_name)
        if operation is None:
            raise ValidationError(f"unknown operation {operation_name!r}")
        data = validate_payload(operation.schema, payload)
        target = self.configurations.resolve(data["configuration"])
        if not self.settings.webhooks.can_sign and callback_url(data, target) is not None:
            raise ConfigurationError(CANNOT_SIGN)  # before anything is paid for
        return operation, data, target

    def _admit(self, record: dict[str, Any], operation_name: str, payload: Any) -> Done:
        """A batch-tier job's first delivery: its requests go into a group; it stays queued."""
        job_id = record["job_id"]
        if record["status"] != "queued" or (self.batch and self.batch.member(job_id)):
            log.info("job.skipped", reason="in a provider batch already", status=record["status"])
            return Done(record["status"])
        try:
            if self.batch is None:
                raise ConfigurationError("this worker runs no batch tier")
            operation, data, configuration = self._load(operation_name, payload)
            if isinstance(configuration, Pool):
                raise ConfigurationError(
                    f"{configuration.name!r} is a pool; a provider batch goes to one "
                    "configuration: name a member for the batch tier"
                )
            check_tier(operation.name, operation.spec.not_batchable, data, "batch")
            group = self.batch.admit(job_id, operation, data, configuration)
        except WorkerError as refused:
            ledger = self._no_ledger(record)
            return self._finish(record, error=refused, duration_s=0.0, ledger=ledger)
        except Exception as exc:  # a bug must fail the job, not the worker
            log.exception("job.internal_error")
            error = InternalError(f"internal error: {type(exc).__name__}: {exc}")
            return self._finish(record, error=error, duration_s=0.0, ledger=self._no_ledger(record))
        record["batch"] = {**(record.get("batch") or {}), "group": group}
        self.results.put(record)
        log.info("job.batched", group=group)
        return Done("queued")

    def _no_ledger(self, record: dict[str, Any]) -> JobLedger:
        return self.ledgers.for_delivery(record["job_id"], known_empty=True)

    def _policy_for(self, operation_name: str, payload: Any) -> RetryPolicy:
        operation = self.operations.get(operation_name)
        if operation is None or operation.retry_policy is None:
            return self.policy
        try:
            return operation.retry_policy(payload, self.policy)
        except Exception:  # a malformed payload has failed validation already
            return self.policy

    def _wait_for_capacity(
        self, record: dict[str, Any], retries_done: int, wait: RateLimited, ledger: JobLedger
    ) -> Decision:
        """Back in line until the limit has room: not an attempt, but bounded in total."""
        record["attempts"] = retries_done
        waited_s = float(record.get("waited_s") or 0.0) + wait.slept_s
        delay_s = self.policy.jittered(wait.wait_s)
        if waited_s + delay_s > self.settings.max_queue_wait_s:
            error = RateLimitError(
                f"{wait}; the job waited {waited_s:.0f} s for capacity in all, and the next "
                f"wait ({delay_s:.0f} s) would pass the limit of "
                f"{self.settings.max_queue_wait_s:g} s (OPENAI_WORKER_MAX_QUEUE_WAIT_S)",
                details={"waited_s": round(waited_s, 3), "answered_calls": ledger.answered()},
            )
            record["waited_s"] = round(waited_s, 3)
            return self._finish(record, error=error, duration_s=0.0, ledger=ledger)
        ledger.flush()
        record.update(
            status="waiting", retry_at=iso_after(delay_s), waited_s=round(waited_s + delay_s, 3)
        )
        self.results.put(record)
        log.info("job.rate_limited", wait_s=round(delay_s, 3), waited_s=round(waited_s, 3))
        return RetryLater(delay_s)

    def _failed_attempt(
        self,
        record: dict[str, Any],
        error: WorkerError,
        retries_done: int,
        payload: Any,
        duration_s: float,
        ledger: JobLedger,
    ) -> Decision:
        policy = self._policy_for(record["operation"], payload)
        if error.retryable and policy.allows_retry(retries_done):
            delay_s = policy.delay_s(retries_done, error.retry_after_s)
            ledger.flush()  # the answers so far are not paid for again
            record.update(
                status="retrying", error=redact(error.as_dict()), retry_at=iso_after(delay_s)
            )
            self.results.put(record)
            self.observer.job_retrying(*self._labels(record), error.error_type)
            log.warning(
                "job.retrying",
                error_type=error.error_type,
                error=error.message,
                status_code=error.status_code,
                delay_s=round(delay_s, 3),
                attempt=retries_done + 1,
            )
            return RetryLater(delay_s)
        return self._finish(record, error=error, duration_s=duration_s, ledger=ledger)

    def _finish(
        self,
        record: dict[str, Any],
        *,
        error: WorkerError | None = None,
        duration_s: float,
        ledger: JobLedger,
    ) -> Done:
        record["finished_at"] = now_iso()
        record["retry_at"] = None
        if error is None:
            record.update(status="succeeded", success=True, error=None)
        else:
            record.update(
                status="failed", success=False, output=None, error=redact(error.as_dict())
            )
        written = self._write_final(record, ledger)
        self.ledgers.drop(ledger)
        if written:
            operation, configuration = self._labels(record)
            self.observer.job_finished(
                {**record, "operation": operation, "configuration": configuration}, duration_s
            )
        event = "job.succeeded" if error is None else "job.failed"
        fields: dict[str, Any] = {"attempts": record["attempts"], "success": error is None}
        if record.get("served_by"):
            fields["served_by"] = record["served_by"]
        if error is not None:
            fields.update(
                error_type=error.error_type, error=error.message, status_code=error.status_code
            )
        if not written:
            fields["note"] = "a final record existed already; left unchanged"
        (log.info if error is None else log.warning)(event, **fields)
        return Done(record["status"], record if written else None, ended=written)

    def _write_final(self, record: dict[str, Any], ledger: JobLedger) -> bool:
        """Write the final record, again and again within the delivery if Redis refuses.

        While it is refused, the outcome goes into the ledger (when Redis takes that),
        so that if this delivery gives up, the next one writes the record instead of
        calling the provider again.
        """
        delays = self.final_write.delays_s()
        kept = False
        while True:
            try:
                return self.results.put(record, ack=DELIVERY.get())
            except Exception as exc:  # the store's client raises its own kinds
                if not kept:
                    kept = self._keep_outcome(record, ledger)
                delay_s = next(delays, None)
                log.warning(
                    "job.final_write_refused",
                    error=f"{type(exc).__name__}: {exc}",
                    outcome_kept=kept,
                    retry_in_s=delay_s,
                )
                if delay_s is None:
                    raise
                TURNS.sleep(delay_s)

    def _keep_outcome(self, record: dict[str, Any], ledger: JobLedger) -> bool:
        """Put the job's outcome in its ledger; whether that worked."""
        try:
            if not isinstance(record.get("output"), StreamedOutput):
                fields = ("output", "usage", "error")
                outcome = {name: record.get(name) for name in fields}
                ledger.put(OUTCOME_KEY, json.dumps(outcome).encode())
            # A streamed output is rebuilt from the answers the ledger already holds.
            ledger.flush()
        except Exception:  # Redis refuses this too: the write is tried again
            return False
        return True

    def _kept_outcome(self, ledger: JobLedger) -> dict[str, Any] | None:
        raw = ledger.get(OUTCOME_KEY)
        if raw is None:
            return None
        kept: dict[str, Any] = json.loads(raw)
        return kept


class ToBatchTier(Exception):  # noqa: N818 - a signal, not an error
    """The job's configuration sends jobs submitted without a tier to the batch tier."""


#: The ledger entry holding a finished job's outcome whose record could not be written.
OUTCOME_KEY = "outcome"


def _redacted_output(output: Any) -> Any:
    """The output as a record may hold it: every string through the one redactor.

    A streamed output holds the float32 vectors of embeddings and the caller's own chunk
    keys, nothing a provider wrote as text.
    """
    return output if isinstance(output, StreamedOutput) else redact(output)
