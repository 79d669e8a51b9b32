"""One batch: its states, advanced by polls, and the output files it ends with.

Each retrieve of the batch counts as a poll; after ``polls_per_step`` polls in a state
it moves on: ``validating`` → ``in_progress`` → ``finalizing`` → ``completed``. While
``in_progress`` the requests run in file order, an equal share per poll, so a cancel or
an expiry part-way leaves part of them done. Faults are read from the ``Script`` (the
server, whose attributes a test may change while a batch runs) when they apply:
``validation_fails`` when validation ends, ``failure_status`` when a request runs,
``expire_after`` while running. A cancel moves the batch to ``cancelling`` and the next
poll to ``cancelled``.

The output file holds one ``BatchRequestOutput`` line per request that succeeded. The
error file holds the requests that failed with an HTTP status (``response`` with that
``status_code`` and an error body, ``error`` null), and, in an expired or cancelled
batch, the requests never run (``response`` null, ``error`` with ``batch_expired`` or
``batch_cancelled``: the codes of OpenAI's ``BatchRequestOutput.error``). Counts follow
the requests that ran: ``completed`` succeeded, ``failed`` failed with a status.
Microsoft documents that a successful Azure batch still has an ``error_file_id``, of an
empty file; an Azure batch gets one, an OpenAI batch has ``null``.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO, Protocol

from batch_api.answers import error_body, success_body
from batch_api.files import BatchRequest, FileStore, InputSummary
from batch_api.wire import ApiError, Layout, now

COMPLETION_WINDOW = 24 * 3600
TERMINAL = frozenset({"failed", "completed", "expired", "cancelled"})
_NOT_RUN = {
    "expired": (
        "batch_expired",
        "This request could not be executed before the completion window expired.",
    ),
    "cancelled": ("batch_cancelled", "This request was not executed: the batch was cancelled."),
}
#: A batch's timestamps, in the order its lifecycle may reach them.
TIMESTAMPS = (
    "in_progress_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)


class Script(Protocol):
    """What a test scripts; read at the moment it applies."""

    polls_per_step: int
    validation_fails: bool
    expire_after: int | None
    shuffle_output: bool

    def failure_status(self, custom_id: str) -> int | None: ...


class Batch:
    """A batch and its progress; every method is safe across threads."""

    def __init__(
        self,
        *,
        layout: Layout,
        endpoint: str,
        input_file_id: str,
        inputs: InputSummary,
        metadata: dict[str, str] | None,
        script: Script,
        files: FileStore,
    ) -> None:
        self.id = layout.new_batch_id()
        self.layout = layout
        self.endpoint = endpoint
        self.input_file_id = input_file_id
        self.inputs = inputs
        self.metadata = metadata
        self.status = "validating"
        self.created_at = now()
        self.times: dict[str, int | None] = dict.fromkeys(TIMESTAMPS)
        self.errors: dict[str, Any] | None = None
        self.output_file_id: str | None = None
        self.error_file_id: str | None = None
        self._script = script
        self._files = files
        self._total = 0
        self._polls = 0
        self._done = 0
        self._failures: dict[int, int] = {}
        self._lock = threading.Lock()

    def poll(self) -> dict[str, Any]:
        """A retrieve: advance if this poll completes a step, then the ``Batch`` object."""
        with self._lock:
            self._advance()
            return self._wire()

    def cancel(self) -> dict[str, Any]:
        with self._lock:
            if self.status in TERMINAL:
                raise ApiError(
                    409, f"Cannot cancel a batch with status {self.status!r}", code="conflict"
                )
            if self.status != "cancelling":
                self.status = "cancelling"
                self.times["cancelling_at"] = now()
            return self._wire()

    def wire(self) -> dict[str, Any]:
        """The ``Batch`` object as it stands (a list does not advance it)."""
        with self._lock:
            return self._wire()

    def _wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": self.errors,
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "expires_at": self.created_at + COMPLETION_WINDOW,
            **self.times,
            "request_counts": {
                "total": self._total,
                "completed": self._done - len(self._failures),
                "failed": len(self._failures),
            },
            "metadata": self.metadata,
        }
        if self.layout is Layout.OPENAI:
            body["model"] = self.inputs.model
        return body

    def _advance(self) -> None:
        if self.status == "cancelling":
            self._finish("cancelled")
            return
        if self.status in TERMINAL:
            return
        step = max(1, self._script.polls_per_step)
        self._polls += 1
        if self.status == "validating" and self._polls >= step:
            self._polls = 0
            if self._script.validation_fails:
                self._fail_validation()
            else:
                self._total = len(self.inputs.requests)
                self._enter("in_progress")
        elif self.status == "in_progress":
            self._run(step)
        elif self.status == "finalizing" and self._polls >= step:
            self._finish("completed")

    def _run(self, step: int) -> None:
        target = self._total * min(self._polls, step) // step
        limit = self._script.expire_after
        if limit is not None and limit < self._total and target >= limit:
            self._run_until(limit)
            self._finish("expired")
            return
        self._run_until(target)
        if self._polls >= step:
            self._polls = 0
            self._enter("finalizing")

    def _run_until(self, target: int) -> None:
        requests = self.inputs.requests
        for index in range(self._done, target):
            status = self._script.failure_status(requests[index].custom_id)
            if status is not None:
                self._failures[index] = status
        self._done = max(self._done, target)

    def _enter(self, status: str) -> None:
        self.status = status
        self.times[f"{status}_at"] = now()

    def _fail_validation(self) -> None:
        self._enter("failed")
        message = "The input file failed validation (scripted by the test)."
        self.errors = {
            "object": "list",
            "data": [{"code": "invalid_request", "message": message, "param": None, "line": 1}],
        }

    def _finish(self, status: str) -> None:
        """Write the output and error files, then enter the final ``status``."""
        order = list(range(len(self.inputs.requests)))
        if self._script.shuffle_output:
            random.shuffle(order)
        done = [i for i in order if i < self._done]
        succeeded = [i for i in done if i not in self._failures]
        failed = [i for i in done if i in self._failures]
        not_run = [i for i in order if i >= self._done] if status in _NOT_RUN else []
        if succeeded:
            self.output_file_id = self._store("output", self._successes(succeeded))
        if failed or not_run or self.layout.is_azure:
            lines = self._errors(failed, not_run, _NOT_RUN.get(status))
            self.error_file_id = self._store("error", lines)
        self._enter(status)

    def _store(self, kind: str, lines: Iterator[dict[str, Any]]) -> str:
        def fill(out: BinaryIO) -> None:
            block: list[str] = []
            for line in lines:
                block.append(json.dumps(line))
                if len(block) == 1000:
                    out.write(("\n".join(block) + "\n").encode())
                    block = []
            if block:
                out.write(("\n".join(block) + "\n").encode())

        stored = self._files.write(self.layout, f"{self.id}_{kind}.jsonl", "batch_output", fill)
        return stored.id

    def _successes(self, indices: list[int]) -> Iterator[dict[str, Any]]:
        created = now()
        url, model = self.inputs.url, self.inputs.model
        for index in indices:
            request = self.inputs.requests[index]
            body = success_body(url, request, model, created)
            yield _line(request, {"status_code": 200, "request_id": _ident(), "body": body}, None)

    def _errors(
        self, failed: list[int], not_run: list[int], reason: tuple[str, str] | None
    ) -> Iterator[dict[str, Any]]:
        requests = self.inputs.requests
        for index in failed:
            status = self._failures[index]
            response = {"status_code": status, "request_id": _ident(), "body": error_body(status)}
            yield _line(requests[index], response, None)
        if reason is not None:
            code, message = reason
            for index in not_run:
                yield _line(requests[index], None, {"code": code, "message": message})


def _line(
    request: BatchRequest, response: dict[str, Any] | None, error: dict[str, str] | None
) -> dict[str, Any]:
    return {
        "id": f"batch_req_{_ident()}",
        "custom_id": request.custom_id,
        "response": response,
        "error": error,
    }


def _ident() -> str:
    return secrets.token_hex(12)
