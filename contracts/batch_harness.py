"""Running a batch contract case through the real worker code, under a vcrpy cassette.

Story ``job`` runs one batch-tier job as the queue would: its first delivery through
the real ``JobRunner`` (admission writes its line into the group), the group's step
through the real ``BatchSteps`` until the group is done (a wait is not waited: the step
runs again at once), then the delivery that finishes the job from its answer line.
Story ``calls`` admits the job the same way, then sends the group's file through
``BatchApi`` calls of its own: search, cancel, read the error file, delete.

Stores are in memory, as in every contract. ``MemoryGroups`` stands in for the Redis
``BatchGroups`` with one group of a fixed id, and the job has a fixed id, so the file
name, the metadata and the lines' ``custom_id`` are the same at every replay.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from batch_cases import BatchCase
from handmade_batch import GROUP
from harness import CONFIGURATION, Sent, contract_functions, one_request_at_a_time

from worker.batches import Route
from worker.batches.groups import Added
from worker.configurations import (
    Configuration,
    ConfigurationStore,
    KeyRing,
    MemoryBackend,
    generate_secret_key,
)
from worker.engine.batch_steps import BATCH_API_TIMEOUT_S, GROUP_METADATA, BatchSteps
from worker.engine.batch_tier import BatchAdmission
from worker.engine.runner import JobRunner
from worker.ledger import Ledgers, MemoryLedgerBackend
from worker.providers import provider_for
from worker.providers.batch import BatchApi, batch_layout
from worker.results import MemoryResultStore, new_record
from worker.retries import RetryPolicy
from worker.settings import BatchSettings, Settings
from worker.transport import HttpClient

JOB_ID = "contract-job"
STEP_TOKEN = "contract-step"
#: Steps a group may take before the harness gives up (a poll that never ends).
MAX_STEPS = 20


class MemoryGroups:
    """The in-memory stand-in for ``BatchGroups``: one group, its id fixed."""

    def __init__(self, group_id: str = GROUP) -> None:
        self.group_id = group_id
        self.fields: dict[str, str] = {}
        self._lines: list[bytes] = []
        self._jobs: list[str] = []

    def add(self, job_id: str, route: Route, lines: list[str], limits: BatchSettings) -> Added:
        created = not self.fields
        if created:
            self.fields = {
                "configuration": route.configuration,
                "endpoint": route.endpoint,
                "model": route.model,
                "state": "open",
                "created_at": f"{time.time():.3f}",
            }
        self._lines += [line.encode("utf-8") for line in lines]
        self._jobs.append(job_id)
        self.fields.update(requests=str(len(self._lines)), jobs=str(len(self._jobs)))
        return Added(self.group_id, created)

    def seal(self, group_id: str, group: dict[str, str]) -> bool:
        if self.fields.get("state") != "open":
            return False
        self.fields.update(state="sealed", sealed_at=f"{time.time():.3f}")
        return True

    def claim(self, group_id: str, token: str) -> bool:
        if self.fields.get("chain") not in (None, "", token):
            return False
        self.fields["chain"] = token
        return True

    def get(self, group_id: str) -> dict[str, str] | None:
        return dict(self.fields) if group_id == self.group_id and self.fields else None

    def update(self, group_id: str, **fields: str | int | float) -> None:
        self.fields.update({name: str(value) for name, value in fields.items()})

    def member(self, job_id: str) -> str | None:
        return self.group_id if job_id in self._jobs else None

    def lines(self, group_id: str) -> Iterator[bytes]:
        return iter(list(self._lines))

    def jobs(self, group_id: str) -> Iterator[list[str]]:
        if self._jobs:
            yield list(self._jobs)

    def retire(self, group_id: str) -> None:
        self._lines, self._jobs = [], []


@dataclass
class RecordingScheduler:
    """What the queue would be asked: step messages and jobs to finish."""

    steps: list[tuple[str, float]] = field(default_factory=list)
    finished: list[tuple[str, str]] = field(default_factory=list)

    def step(self, group_id: str, delay_s: float) -> None:
        self.steps.append((group_id, delay_s))

    def finish(self, jobs: list[tuple[str, str]]) -> None:
        self.finished.extend(jobs)


@dataclass
class BatchRun:
    """What a batch case produced."""

    #: The job's final record (story ``job``) or its record once admitted (``calls``).
    record: dict[str, Any]
    #: The group as the steps left it (``job``).
    group: dict[str, str]
    #: What each ``BatchApi`` call answered, parsed (story ``calls``).
    calls: dict[str, Any] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """What the story ended with, in a few words."""
        if self.calls:
            return f"batch {self.calls.get('cancelled', {}).get('status')}"
        return f"job {self.record['status']}"

    @property
    def ok(self) -> bool:
        """Whether the story ran to its end as a case expects."""
        if self.calls:
            return bool(self.calls.get("cancelled", {}).get("status") == "cancelled")
        return bool(self.record["status"] == "succeeded")


class _World:
    """One case's worker: settings, memory stores, runner, admission and steps."""

    def __init__(self, case: BatchCase, configuration: Configuration, http: HttpClient) -> None:
        secret_key = generate_secret_key()
        self.case, self.http = case, http
        self.settings = Settings(secret_keys=(secret_key,), max_retries=0)
        self.results = MemoryResultStore()
        self.configurations = ConfigurationStore(MemoryBackend(), KeyRing([secret_key]))
        self.configurations.save(configuration)
        self.groups = MemoryGroups()
        self.scheduler = RecordingScheduler()
        ledgers = MemoryLedgerBackend()
        groups: Any = self.groups  # the Redis store's stand-in
        self.runner = JobRunner(
            settings=self.settings,
            results=self.results,
            configurations=self.configurations,
            http=http,
            functions=contract_functions(),
            policy=RetryPolicy(max_retries=0),
            ledgers=Ledgers(ledgers),
            batch=BatchAdmission(
                settings=self.settings,
                groups=groups,
                http=http,
                functions=contract_functions(),
                scheduler=self.scheduler,
            ),
        )
        self.steps = BatchSteps(
            settings=self.settings,
            groups=groups,
            results=self.results,
            configurations=self.configurations,
            ledgers=ledgers,
            http=http,
            scheduler=self.scheduler,
        )
        self.payload = {"configuration": CONFIGURATION, **case.payload}

    def admit(self) -> None:
        """The job's first delivery, as ``Client.submit(…, tier="batch")`` queued it."""
        record = new_record(JOB_ID, self.case.operation, CONFIGURATION, on_expiry="standard")
        self.results.submit(record, self.case.operation, self.payload)
        self.runner.run(JOB_ID, self.case.operation, self.payload)
        admitted = self.results.get(JOB_ID)
        if admitted is None or admitted["status"] != "queued":
            raise RuntimeError(f"the job of {self.case.id} was not admitted: {admitted}")

    def job(self) -> BatchRun:
        for _ in range(MAX_STEPS):
            if self.steps.step(GROUP, STEP_TOKEN) is None:
                break
        else:
            raise RuntimeError(f"the group of {self.case.id} never got done: {self.groups.fields}")
        for job_id, operation in self.scheduler.finished:
            self.runner.run(job_id, operation, None)
        record = self.results.get(JOB_ID)
        assert record is not None
        return BatchRun(record, dict(self.groups.fields))

    def calls(self) -> BatchRun:
        """Every other ``BatchApi`` call, on the group's file, as the steps would name it."""
        api = self.api()
        filename = f"{self.settings.namespace}-{GROUP}.jsonl"
        content = b"".join(line + b"\n" for line in self.groups.lines(GROUP))
        metadata = {GROUP_METADATA: GROUP, "openai_worker_namespace": self.settings.namespace}
        found: dict[str, Any] = {}
        found["uploaded"] = api.upload(filename, io.BytesIO(content))
        found["found_file"] = api.find_file(filename)
        endpoint = self.groups.fields["endpoint"]
        found["created"] = api.create(found["uploaded"]["id"], endpoint, metadata)
        batch_id = found["created"]["id"]
        found["found_batch"] = api.find_batch(GROUP_METADATA, GROUP)
        found["cancelling"] = api.cancel(batch_id)
        found["cancelled"] = api.get(batch_id)
        error_file = found["cancelled"].get("error_file_id")
        with api.lines(error_file) as lines:
            found["errors"] = [json.loads(line) for line in lines]
        for file_id in (found["uploaded"]["id"], error_file):
            api.delete_file(file_id)
        record = self.results.get(JOB_ID)
        assert record is not None
        return BatchRun(record, dict(self.groups.fields), calls=found)

    def api(self) -> BatchApi:
        configuration = self.configurations.load(CONFIGURATION)
        layout = batch_layout(provider_for(configuration))
        return BatchApi(layout, self.http, timeout_s=BATCH_API_TIMEOUT_S)


def run_batch_case(case: BatchCase, configuration: Configuration, http: HttpClient) -> BatchRun:
    """Run the case's story once through the real runner, admission, steps and BatchApi."""
    world = _World(case, configuration, http)
    with one_request_at_a_time():
        world.admit()
        run = world.job() if case.story == "job" else world.calls()
    run.sent = list(getattr(http, "sent", []))
    return run
