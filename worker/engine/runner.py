"""The job runner: one delivery of one job, from its record to its final status.

Validate, call through the operation, write the record at every status change, and
decide with the retry policy whether to try again. Free of Dramatiq: the actor hands in
the job, and gets back ``Done`` or ``RetryLater(delay_s)``, which it turns into a
delayed re-enqueue. (``services`` builds the runner once per worker process.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from worker.checkpoints import Checkpoint, Checkpoints, MemoryCheckpoints
from worker.configurations import Configuration, ConfigurationStore
from worker.errors import InternalError, ValidationError, WorkerError
from worker.functions import FunctionRegistry
from worker.observer import JobObserver, NullObserver
from worker.operations import OPERATIONS, JobContext, Operation
from worker.providers import ProviderClient, provider_for
from worker.ratelimit import Limiter, NoLimit, RateLimited
from worker.results import FINAL_STATUSES, ResultStore, new_record, now_iso
from worker.retries import RetryPolicy
from worker.settings import Settings
from worker.transport import HttpClient
from worker.validation import validate_payload

log = structlog.get_logger("worker.runner")


@dataclass(frozen=True)
class Done:
    """The job reached a final status (or was already final)."""

    status: str


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
        checkpoints: Checkpoints | None = None,
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
        self.checkpoints: Checkpoints = checkpoints or MemoryCheckpoints()

    def run(self, job_id: str, operation_name: str, payload: Any) -> Decision:
        """Run one delivery; never raises for anything a job can do wrong.

        Attempts are counted in the record, so a delivery that died with its worker
        (the record still says ``running``) counts too, and a job that keeps killing
        its workers ends as failed instead of looping forever.
        """
        # Status only: a finished job's output may be a gigabyte kept in parts.
        record = self.results.get(job_id, read_output=False)
        if record is None:  # expired, or enqueued by hand: start a record now
            configuration = payload.get("configuration") if isinstance(payload, dict) else None
            record = new_record(job_id, operation_name, configuration)
        if record["status"] in FINAL_STATUSES:
            log.info("job.skipped", reason="already final", status=record["status"])
            return Done(record["status"])
        interrupted = record["status"] == "running"
        retries_done = record["attempts"]
        record.update(status="running", attempts=retries_done + 1)
        record["started_at"] = record["started_at"] or now_iso()
        if interrupted:
            log.warning(
                "job.redelivered",
                reason="a worker stopped while running it",
                attempt=record["attempts"],
            )
            # A crash is not the job's fault, so even a job without retries runs again;
            # only one that keeps taking its workers down is given up.
            if self.policy.gives_up_after_interruption(retries_done):
                error = InternalError(
                    f"the job was interrupted {retries_done} times (its worker crashed or was "
                    "killed while running it); not trying again"
                )
                return self._finish(record, error=error, duration_s=0.0)
        self.results.put(record)
        self.observer.job_started(operation_name, record["configuration"])
        log.info("job.started", attempt=record["attempts"])

        started = time.perf_counter()
        checkpoint = self.checkpoints.for_job(job_id)
        try:
            outcome = self._execute(job_id, operation_name, payload, checkpoint)
        except RateLimited as wait:
            # Waiting for capacity is not a failed attempt: the job goes back in line.
            record.update(status="queued", attempts=retries_done)
            self.results.put(record)
            log.info("job.rate_limited", wait_s=round(wait.wait_s, 3))
            return RetryLater(wait.wait_s)
        except WorkerError as exc:
            elapsed = time.perf_counter() - started
            return self._failed_attempt(record, exc, retries_done, payload, elapsed, checkpoint)
        except Exception as exc:  # a bug must fail the job, not the worker
            log.exception("job.internal_error")
            error = InternalError(f"internal error: {type(exc).__name__}: {exc}")
            elapsed = time.perf_counter() - started
            return self._finish(record, error=error, duration_s=elapsed, checkpoint=checkpoint)

        record.update(output=outcome.output, usage=outcome.usage)
        elapsed = time.perf_counter() - started
        return self._finish(record, duration_s=elapsed, checkpoint=checkpoint)

    def _execute(
        self, job_id: str, operation_name: str, payload: Any, checkpoint: Checkpoint
    ) -> Any:
        operation = self.operations.get(operation_name)
        if operation is None:
            raise ValidationError(f"unknown operation {operation_name!r}")
        data = validate_payload(operation.schema, payload)
        configuration = self.configurations.load(data["configuration"])
        client = ProviderClient(
            provider_for(configuration),
            self.http,
            self.observer,
            self.limiter_for(configuration),
        )
        context = JobContext(
            job_id=job_id,
            client=client,
            functions=self.functions,
            settings=self.settings,
            http=self.http,
            log=log,
            checkpoint=checkpoint,
        )
        return operation.run(context, data)

    def _policy_for(self, operation_name: str, payload: Any) -> RetryPolicy:
        operation = self.operations.get(operation_name)
        if operation is None or operation.retry_policy is None:
            return self.policy
        try:
            return operation.retry_policy(payload, self.policy)
        except Exception:  # a malformed payload has failed validation already
            return self.policy

    def _failed_attempt(
        self,
        record: dict[str, Any],
        error: WorkerError,
        retries_done: int,
        payload: Any,
        duration_s: float,
        checkpoint: Checkpoint,
    ) -> Decision:
        policy = self._policy_for(record["operation"], payload)
        if error.retryable and policy.allows_retry(retries_done):
            delay_s = policy.delay_s(retries_done, error.retry_after_s)
            record.update(status="retrying", error=error.as_dict())
            self.results.put(record)
            self.observer.job_retrying(
                record["operation"], record["configuration"], error.error_type
            )
            log.warning(
                "job.retrying",
                error_type=error.error_type,
                error=error.message,
                status_code=error.status_code,
                delay_s=round(delay_s, 3),
                attempt=retries_done + 1,
            )
            return RetryLater(delay_s)
        return self._finish(record, error=error, duration_s=duration_s, checkpoint=checkpoint)

    def _finish(
        self,
        record: dict[str, Any],
        *,
        error: WorkerError | None = None,
        duration_s: float,
        checkpoint: Checkpoint | None = None,
    ) -> Done:
        record["finished_at"] = now_iso()
        if error is None:
            record.update(status="succeeded", success=True, error=None)
        else:
            record.update(status="failed", success=False, output=None, error=error.as_dict())
        written = self.results.put(record)
        if checkpoint is not None and checkpoint.used:
            self.checkpoints.clear(record["job_id"])
        if written:
            self.observer.job_finished(record, duration_s)
        event = "job.succeeded" if error is None else "job.failed"
        fields: dict[str, Any] = {"attempts": record["attempts"], "success": error is None}
        if error is not None:
            fields.update(
                error_type=error.error_type, error=error.message, status_code=error.status_code
            )
        if not written:
            fields["note"] = "a final record existed already; left unchanged"
        (log.info if error is None else log.warning)(event, **fields)
        return Done(record["status"])
