"""The batch tier's two ends of a job: its requests into a group, the answers back.

**Admission.** A batch-tier job's first delivery runs its operation with a client that
sends nothing: each ``post_json`` is written down as a batch file line (``custom_id``:
the job id and the call's ledger key) and answered with a placeholder of the right
shape, so the operation goes on to make all its calls. The lines go into the open group
of the job's route in one atomic step (``worker.batches``); the job stays ``queued``.

**Answers.** When the provider's batch has ended, each answer line is put into its
job's ledger under ``batch:`` and its call key, and the job runs again, the standard way,
with a client that answers each call from there: the same operation code builds the
same output, usage and errors as in the standard tier. A call the batch did not answer
(the batch expired or was cancelled) goes to the provider at once when the job says
``on_expiry: standard``, else fails the job.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from requests.structures import CaseInsensitiveDict

from worker.batches import BatchGroups, Route
from worker.configurations import Configuration
from worker.errors import (
    CancelledError,
    ConfigurationError,
    InternalError,
    ProviderError,
    ValidationError,
    WorkerError,
)
from worker.functions import FunctionRegistry
from worker.ledger import JobLedger, memory_ledger, paying_call
from worker.operations import JobContext, Operation
from worker.providers import ProviderClient, provider_for
from worker.providers.batch import BATCH_PATHS, BatchLayout, batch_layout
from worker.providers.errors import error_from_response
from worker.settings import Settings
from worker.transport import HttpClient, HttpResponse

log = structlog.get_logger("worker.batch")

#: Where an answer line waits in a job's ledger: this prefix, then the call's key.
ANSWER_PREFIX = "batch:"
#: Separates the job id from the call key in a line's ``custom_id``.
CUSTOM_ID_SEPARATOR = "/"
#: The error codes of requests a batch never ran (the rest of an expired or cancelled
#: batch): they may still go through the standard tier.
NOT_RUN_CODES = frozenset({"batch_expired", "batch_cancelled"})
#: A group's states before a step message has claimed it.
OPEN_OR_SEALED = frozenset({"open", "sealed"})
#: Provider batch statuses after which no more answers come.
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})


class Scheduler(Protocol):
    """What the queue does for the batch tier (``worker.queue`` implements it)."""

    def step(self, group_id: str, delay_s: float) -> None:
        """Send a new step message for the group, due in ``delay_s`` seconds."""
        ...

    def finish(self, jobs: list[tuple[str, str]]) -> None:
        """Run each (job id, operation) again, to finish it from its answers."""
        ...


@dataclass(frozen=True)
class BatchRequest:
    """One line of a batch file."""

    key: str
    path: str
    body: dict[str, Any]


def custom_id(job_id: str, key: str) -> str:
    return f"{job_id}{CUSTOM_ID_SEPARATOR}{key}"


def split_custom_id(value: str) -> tuple[str, str]:
    """A line's job id and call key."""
    job_id, _, key = value.partition(CUSTOM_ID_SEPARATOR)
    return job_id, key


class CollectingClient(ProviderClient):
    """Writes each call down as a batch file line instead of sending it."""

    def __init__(self, layout: BatchLayout, http: HttpClient) -> None:
        super().__init__(layout.provider, http)
        self.layout = layout
        self.requests: list[BatchRequest] = []
        self._lock = threading.Lock()

    def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        key = paying_call()
        if path not in BATCH_PATHS or key is None:
            raise ValidationError(f"a call to {path} cannot go into a provider batch")
        with self._lock:
            self.requests.append(BatchRequest(key, path, self.layout.body(body)))
        return _placeholder(path, body)

    def send(self, method: str, path: str, **options: Any) -> HttpResponse:
        raise ValidationError(f"a {method} call to {path} cannot go into a provider batch")

    def lines(self, job_id: str) -> list[str]:
        """The job's batch file lines, in the order the operation made the calls."""
        return [
            json.dumps(
                {
                    "custom_id": custom_id(job_id, request.key),
                    "method": "POST",
                    "url": self.layout.endpoint(request.path),
                    "body": request.body,
                },
                separators=(",", ":"),
            )
            for request in self.requests
        ]


def _placeholder(path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """An answer of the right shape, so the operation goes on to its next call."""
    if path == "embeddings":
        inputs = body.get("input")
        count = len(inputs) if isinstance(inputs, list) else 1
        return {"data": [{"index": i, "embedding": [0.0]} for i in range(count)]}
    message = {"role": "assistant", "content": "{}"}
    return {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


@dataclass(frozen=True)
class BatchEnd:
    """How a job's provider batch ended, as its answers are read."""

    #: The provider batch's final status (``completed``, ``expired``…).
    status: str
    #: What to do with a call the batch did not answer: ``standard`` or ``fail``.
    on_expiry: str
    #: The operator cancelled the job meanwhile.
    cancelled: bool = False
    #: The provider's reason when the whole batch failed (validation).
    failure: str | None = None

    @classmethod
    def of(cls, record: dict[str, Any]) -> BatchEnd | None:
        """How a batch-tier job's batch ended, once its answers were handed back."""
        batch = record.get("batch") or {}
        ended = batch.get("ended")
        if not isinstance(ended, dict):
            return None
        return cls(
            status=str(ended.get("status")),
            on_expiry=str(batch.get("on_expiry") or "standard"),
            cancelled=bool(batch.get("cancelled")),
            failure=ended.get("failure"),
        )


class AnsweringClient(ProviderClient):
    """Answers each call from the batch's answer in the job's ledger."""

    def __init__(self, live: ProviderClient, ledger: JobLedger, end: BatchEnd) -> None:
        super().__init__(live.provider, live.http, live.observer, live.limiter)
        self.timeout_s = live.timeout_s
        self.live, self.ledger, self.end = live, ledger, end

    def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.end.cancelled:
            raise CancelledError("the job was cancelled while its provider batch ran")
        key = paying_call()
        raw = self.ledger.get(ANSWER_PREFIX + key) if key is not None else None
        line = json.loads(raw) if raw is not None else None
        if isinstance(line, dict) and not _not_run(line):
            return _answer(line)
        if self.end.failure is not None:
            raise ProviderError(
                f"the provider refused the batch: {self.end.failure}",
                details={"batch_status": self.end.status},
            )
        if self.end.status in ("expired", "cancelled") and self.end.on_expiry == "standard":
            return self.live.post_json(path, body)
        if self.end.status in ("expired", "cancelled"):
            raise ProviderError(
                f"the provider's batch was {self.end.status} before it answered this call "
                "(on_expiry: fail)",
                details={"batch_status": self.end.status},
            )
        raise InternalError(f"the provider's batch ended {self.end.status} with no line for {key}")

    def send(self, method: str, path: str, **options: Any) -> HttpResponse:
        raise InternalError(f"a batch-tier job made a {method} call to {path}")


def _not_run(line: dict[str, Any]) -> bool:
    error = line.get("error")
    return isinstance(error, dict) and error.get("code") in NOT_RUN_CODES


def _answer(line: dict[str, Any]) -> dict[str, Any]:
    """A line's answer body, or the error the standard tier would raise for it."""
    response = line.get("response")
    if isinstance(response, dict):
        status = response.get("status_code")
        body = response.get("body")
        if isinstance(status, int) and status < 300 and isinstance(body, dict):
            return body
        if isinstance(status, int):
            content = json.dumps(body).encode("utf-8")
            refused = error_from_response(HttpResponse(status, CaseInsensitiveDict(), content))
            # The batch's answer is final: asking it again gives the same answer.
            refused.retryable, refused.retry_after_s = False, None
            raise refused
    error = line.get("error")
    if isinstance(error, dict):
        raise ProviderError(
            f"the provider's batch could not run this call: {error.get('message') or error}",
            details={"code": error.get("code")},
        )
    raise ProviderError("the provider's batch answered this call with a line of no known shape")


class BatchAdmission:
    """Puts a batch-tier job's requests into its route's open group."""

    def __init__(
        self,
        *,
        settings: Settings,
        groups: BatchGroups,
        http: HttpClient,
        functions: FunctionRegistry,
        scheduler: Scheduler,
    ) -> None:
        self.settings, self.groups, self.http = settings, groups, http
        self.functions, self.scheduler = functions, scheduler

    def member(self, job_id: str) -> str | None:
        """The group of a job admitted before; its step is sent again if it may have
        been lost (the delivery that admitted the job died before sending it)."""
        group_id = self.groups.member(job_id)
        group = self.groups.get(group_id) if group_id else None
        if group_id and group and not group.get("chain") and group["state"] in OPEN_OR_SEALED:
            due = float(group.get("created_at") or 0) + self.settings.batch.window_s
            self.scheduler.step(group_id, max(0.0, due - time.time()))
        return group_id

    def admit(
        self,
        job_id: str,
        operation: Operation,
        data: dict[str, Any],
        configuration: Configuration,
    ) -> str:
        """Write the job's requests down and add them to a group; the group's id."""
        layout = batch_layout(provider_for(configuration))
        collector = CollectingClient(layout, self.http)
        context = JobContext(
            job_id=job_id,
            client=collector,
            functions=self.functions,
            settings=self.settings,
            http=self.http,
            calls=memory_ledger(job_id),
        )
        try:
            operation.run(context, data)
        except (ValidationError, ConfigurationError):
            raise
        except WorkerError:
            pass  # a placeholder answer need not make sense: the requests are written down
        requests = collector.requests
        if not requests:
            raise ValidationError(f"{operation.name} made no request a provider batch can hold")
        routes = {(request.path, layout.model(request.body)) for request in requests}
        if len(routes) > 1:
            raise ValidationError("a batch-tier job's requests must share one endpoint and model")
        limit = self.settings.batch.max_requests
        if len(requests) > limit:
            raise ValidationError(
                f"the job makes {len(requests)} requests, more than one provider batch holds "
                f"({limit}, OPENAI_WORKER_BATCH_MAX_REQUESTS); split it over several jobs"
            )
        [(path, model)] = routes
        route = Route(configuration.name, layout.endpoint(path), model)
        added = self.groups.add(job_id, route, collector.lines(job_id), self.settings.batch)
        if added.created:
            self.scheduler.step(added.group, self.settings.batch.window_s)
        if added.sealed:
            log.info("batch.sealed", group=added.sealed, reason="full")
            self.scheduler.step(added.sealed, 0.0)
        return added.group
