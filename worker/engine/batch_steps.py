"""A group's life after it is sealed: file, batch, polls, answers, clean-up.

One step message drives a group (``worker.batches``: the first to claim it); it does
what it can at once and, when it must wait (for the window, for the provider), is put
back in line with a delay. Progress is the group's ``state``, written after each phase:

``sealed`` → write the batch file (streamed from Redis into a temporary file, skipping
jobs cancelled meanwhile) and upload it → ``uploaded`` → create the provider batch →
``submitted`` (the jobs are ``batched``) → poll, with a doubling delay, until the batch
ends → ``distributing``: stream its output and error files into the jobs' ledgers →
``finishing``: hand every job back to the queue to be finished from its answers →
``cleanup``: delete the provider's files → ``done``.

A worker killed in any phase leaves the state of the phase before: the next delivery
of the step does the phase again. Doing it again never pays twice: before uploading
again, the provider's files are searched for this group's file name, and before
creating a batch, the provider's batches for one whose metadata names this group.
Writing answers into ledgers and handing jobs back are idempotent (a job finished
already is skipped).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from typing import IO, Any

import structlog

from worker.batches import BatchGroups
from worker.configurations import ConfigurationStore
from worker.engine.batch_tier import ANSWER_PREFIX, ENDED, Scheduler, split_custom_id
from worker.errors import WorkerError
from worker.ledger import LedgerBackend
from worker.observer import JobObserver, NullObserver
from worker.providers import provider_for
from worker.providers.batch import BatchApi, batch_layout
from worker.results import FINAL_STATUSES, ResultStore
from worker.settings import Settings
from worker.transport import HttpClient

log = structlog.get_logger("worker.batch")

#: The metadata key naming a provider batch's group (and so its jobs).
GROUP_METADATA = "openai_worker_group"
#: Answers written into ledgers per round trip.
WRITE_CHUNK = 1000
#: The read timeout of Files and Batches calls (an upload of 200 MB takes a while).
BATCH_API_TIMEOUT_S = 600.0


class BatchSteps:
    """Drives sealed groups through their provider batches."""

    def __init__(
        self,
        *,
        settings: Settings,
        groups: BatchGroups,
        results: ResultStore,
        configurations: ConfigurationStore,
        ledgers: LedgerBackend,
        http: HttpClient,
        scheduler: Scheduler,
        observer: JobObserver | None = None,
    ) -> None:
        self.settings, self.groups, self.results = settings, groups, results
        self.configurations, self.ledgers, self.http = configurations, ledgers, http
        self.scheduler = scheduler
        self.observer: JobObserver = observer or NullObserver()

    def step(self, group_id: str, token: str) -> float | None:
        """Advance the group as far as it goes now: seconds until this message should
        run again, or None when it is done with the group (or another message owns it).
        Never raises for a provider's fault."""
        group = self.groups.get(group_id)
        if group is None:
            return None
        if group["state"] == "open" and self.groups.seal(group_id, group):
            log.info("batch.sealed", group=group_id, reason="window")
        if not self.groups.claim(group_id, token):
            return None
        while True:
            group = self.groups.get(group_id)
            if group is None or group["state"] == "done":
                return None
            try:
                wait_s = self._advance(group_id, group)
            except WorkerError as exc:
                wait_s = self._failed_step(group_id, group, exc)
            if wait_s is not None:
                return wait_s

    def _advance(self, group_id: str, group: dict[str, str]) -> float | None:
        """Do the group's next phase; how long to wait before the one after (None: now)."""
        state = group["state"]
        if state == "sealed":
            self._upload(group_id, group)
        elif state == "uploaded":
            self._create(group_id, group)
        elif state == "submitted":
            return self._poll(group_id, group)
        elif state == "distributing":
            self._distribute(group_id, group)
        elif state == "finishing":
            self._finish(group_id, group)
        elif state == "cleanup":
            self._clean_up(group_id, group)
        return None

    def _api(self, group: dict[str, str]) -> BatchApi:
        configuration = self.configurations.load(group["configuration"])
        layout = batch_layout(provider_for(configuration))
        return BatchApi(layout, self.http, timeout_s=BATCH_API_TIMEOUT_S)

    def _filename(self, group_id: str) -> str:
        return f"{self.settings.namespace}-{group_id}.jsonl"

    # --- sealed → uploaded ---------------------------------------------------------------

    def _upload(self, group_id: str, group: dict[str, str]) -> None:
        api = self._api(group)
        found = api.find_file(self._filename(group_id)) if group.get("uploading") else None
        if found is None:
            self.groups.update(group_id, uploading=1)
            with tempfile.TemporaryFile() as content:
                lines = self._write_file(group_id, content)
                if lines == 0:
                    log.info("batch.empty", group=group_id, reason="every job was cancelled")
                    self.groups.update(group_id, state="finishing", provider_status="empty")
                    return
                content.seek(0)
                found = api.upload(self._filename(group_id), content)
        self.groups.update(group_id, state="uploaded", input_file_id=str(found.get("id")))
        log.info("batch.uploaded", group=group_id, file_id=found.get("id"))

    def _write_file(self, group_id: str, content: IO[bytes]) -> int:
        """The group's lines into ``content``, less those of jobs that have ended."""
        written = 0
        for chunk in _chunks(self.groups.lines(group_id), WRITE_CHUNK):
            job_ids = [split_custom_id(_custom_id(line))[0] for line in chunk]
            live = set(self._live_jobs(sorted(set(job_ids))))
            for job_id, line in zip(job_ids, chunk, strict=True):
                if job_id in live:
                    content.write(line + b"\n")
                    written += 1
        content.flush()
        return written

    def _live_jobs(self, job_ids: list[str]) -> list[str]:
        """The jobs that have not ended (an operator may have cancelled some)."""
        statuses = self.results.statuses(job_ids)
        return [
            job_id
            for job_id, status in zip(job_ids, statuses, strict=True)
            if status is not None and status not in FINAL_STATUSES
        ]

    # --- uploaded → submitted ------------------------------------------------------------

    def _create(self, group_id: str, group: dict[str, str]) -> None:
        api = self._api(group)
        found = api.find_batch(GROUP_METADATA, group_id) if group.get("creating") else None
        if found is None:
            self.groups.update(group_id, creating=1)
            metadata = {
                GROUP_METADATA: group_id,
                "openai_worker_namespace": self.settings.namespace,
            }
            found = api.create(group["input_file_id"], group["endpoint"], metadata)
        batch_id = str(found.get("id"))
        self.groups.update(
            group_id,
            state="submitted",
            batch_id=batch_id,
            provider_status=str(found.get("status")),
            request_counts=json.dumps(found.get("request_counts") or {}),
            poll_s=self.settings.batch.poll_min_s,
            submitted_at=f"{time.time():.3f}",
        )
        for job_ids in self.groups.jobs(group_id):
            self.results.merge_batch(
                job_ids, {"group": group_id, "provider_batch_id": batch_id}, "batched"
            )
        log.info("batch.created", group=group_id, batch_id=batch_id)

    # --- submitted → distributing --------------------------------------------------------

    def _poll(self, group_id: str, group: dict[str, str]) -> float | None:
        batch = self._api(group).get(group["batch_id"])
        status = str(batch.get("status"))
        fields: dict[str, Any] = {
            "provider_status": status,
            "request_counts": json.dumps(batch.get("request_counts") or {}),
        }
        if status not in ENDED:
            wait_s = float(group.get("poll_s") or self.settings.batch.poll_min_s)
            fields["poll_s"] = min(wait_s * 2, self.settings.batch.poll_max_s)
            self.groups.update(group_id, **fields)
            return wait_s
        fields.update(
            state="distributing",
            ended_at=f"{time.time():.3f}",
            output_file_id=str(batch.get("output_file_id") or ""),
            error_file_id=str(batch.get("error_file_id") or ""),
        )
        if status == "failed":
            fields["failure"] = _failure(batch)
        self.groups.update(group_id, **fields)
        log.info("batch.ended", group=group_id, status=status, counts=batch.get("request_counts"))
        # After the state moved on, so a delivery done again never counts a batch twice
        # (one killed right here leaves it uncounted instead).
        self.observer.batch_ended(group["configuration"], status, batch.get("request_counts") or {})
        return None

    # --- distributing → finishing --------------------------------------------------------

    def _distribute(self, group_id: str, group: dict[str, str]) -> None:
        api = self._api(group)
        answers = 0
        for file_id in (group.get("output_file_id"), group.get("error_file_id")):
            if not file_id:
                continue
            with api.lines(file_id) as lines:
                for chunk in _chunks(lines, WRITE_CHUNK):
                    answers += self._keep_answers(chunk)
        self.groups.update(group_id, state="finishing", answers=answers)
        log.info("batch.distributed", group=group_id, answers=answers)

    def _keep_answers(self, lines: list[bytes]) -> int:
        entries: dict[str, dict[str, bytes]] = {}
        for line in lines:
            job_id, key = split_custom_id(_custom_id(line))
            if job_id and key:
                entries.setdefault(job_id, {})[ANSWER_PREFIX + key] = line
        self.ledgers.put_many(entries)
        return sum(len(found) for found in entries.values())

    # --- finishing → cleanup -------------------------------------------------------------

    def _finish(self, group_id: str, group: dict[str, str]) -> None:
        ended: dict[str, Any] = {"status": group.get("provider_status") or "failed"}
        if group.get("failure"):
            ended["failure"] = group["failure"]
        handed = 0
        for job_ids in self.groups.jobs(group_id):
            operations = self.results.merge_batch(job_ids, {"ended": ended})
            jobs = [(j, op) for j, op in zip(job_ids, operations, strict=True) if op]
            if jobs:
                self.scheduler.finish(jobs)
                handed += len(jobs)
        self.groups.update(group_id, state="cleanup", finished_at=f"{time.time():.3f}")
        log.info("batch.handed_back", group=group_id, jobs=handed)

    # --- cleanup → done ------------------------------------------------------------------

    def _clean_up(self, group_id: str, group: dict[str, str]) -> None:
        if group.get("input_file_id"):
            api = self._api(group)
            for name in ("input_file_id", "output_file_id", "error_file_id"):
                if group.get(name):
                    api.delete_file(group[name])
        self.groups.update(group_id, state="done")
        self.groups.retire(group_id)

    def _failed_step(
        self, group_id: str, group: dict[str, str], error: WorkerError
    ) -> float | None:
        """A step the provider refused: wait and try again, or fail the group's jobs."""
        tries = int(group.get("step_failures") or 0) + 1
        if error.retryable and tries <= self.settings.max_retries + 3:
            wait_s = min(self.settings.batch.poll_min_s * 2.0 ** (tries - 1), 3600.0)
            self.groups.update(group_id, step_failures=tries)
            log.warning(
                "batch.step_failed",
                group=group_id,
                state=group["state"],
                error=error.message,
                retry_in_s=wait_s,
            )
            return wait_s
        log.warning("batch.failed", group=group_id, state=group["state"], error=error.message)
        if group["state"] in ("distributing", "finishing", "cleanup"):
            # The answers are in (or being read): what failed is reading or deleting files.
            next_state = "finishing" if group["state"] == "distributing" else "done"
            self.groups.update(group_id, state=next_state, cleanup_error=error.message)
            return None
        self.groups.update(
            group_id,
            state="finishing",
            provider_status="failed",
            failure=f"{error.message} (while {_doing(group['state'])})",
        )
        return None


def _doing(state: str) -> str:
    return {"sealed": "uploading its file", "uploaded": "creating it"}.get(state, "polling it")


def _failure(batch: dict[str, Any]) -> str:
    """The provider's reasons a batch failed, in one line."""
    errors = batch.get("errors")
    data = errors.get("data") if isinstance(errors, dict) else None
    if not isinstance(data, list) or not data:
        return "the batch failed"
    shown = [
        f"{item.get('code')}: {item.get('message')}"
        + (f" (line {item['line']})" if item.get("line") else "")
        for item in data[:5]
        if isinstance(item, dict)
    ]
    more = f"; and {len(data) - 5} more" if len(data) > 5 else ""
    return "; ".join(shown) + more


def _custom_id(line: bytes) -> str:
    try:
        value = json.loads(line).get("custom_id")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _chunks(lines: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
