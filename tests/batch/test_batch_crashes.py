"""A worker SIGKILLed in the middle of a group's life: no group is submitted twice,
every job ends once. The Batch API server holds one answer while the test kills the
worker that is waiting for it; a second worker takes the group's step over."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from batch_api_server import serve_batch_api
from support import OPENAI_KEY, kill_hard, make_configuration, wait_for

pytestmark = pytest.mark.integration
WAIT_S = 40
ENV = {
    "OPENAI_WORKER_BATCH_WINDOW_S": "0.5",
    "OPENAI_WORKER_BATCH_POLL_MIN_S": "0.2",
    "OPENAI_WORKER_BATCH_POLL_MAX_S": "0.5",
    "OPENAI_WORKER_HEARTBEAT_TIMEOUT_S": "2",
}


class Hold:
    """Holds the first answer to ``method`` on a path ending in ``suffix``."""

    def __init__(self, method: str, suffix: str) -> None:
        self.method, self.suffix = method, suffix
        self.reached = threading.Event()
        self.release = threading.Event()
        self._once = threading.Lock()

    def __call__(self, method: str, path: str) -> None:
        if method == self.method and path.endswith(self.suffix) and self._once.acquire(False):
            self.reached.set()
            self.release.wait(30)


@pytest.mark.parametrize(
    ("method", "suffix", "moment"),
    [
        ("POST", "/files", "the file is stored, its id not yet known to the worker"),
        ("POST", "/batches", "the batch is created, its id not yet known to the worker"),
        ("GET", "/content", "the answers are being read"),
    ],
)
def test_a_worker_killed_mid_group_submits_nothing_twice(
    method: str, suffix: str, moment: str, client: Any, start_worker: Any
) -> None:
    hold = Hold(method, suffix)
    with serve_batch_api(api_key=OPENAI_KEY) as api:
        api.before_answer = hold
        client.configurations().save(make_configuration("openai", api.url))
        job_ids = [
            client.submit(
                "chat_completions_without_history",
                {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": f"Q{i}"},
                tier="batch",
            )
            for i in range(6)
        ]
        doomed = start_worker(threads=2, **ENV)
        assert hold.reached.wait(30), f"the worker never got to where {moment}"
        kill_hard(doomed)
        hold.release.set()
        start_worker(threads=2, **ENV)
        wait_for(lambda: all(_ended(client, job_id) for job_id in job_ids), WAIT_S)
        records = [client.result(job_id) for job_id in job_ids]

        assert [r["status"] for r in records] == ["succeeded"] * 6, records
        for job_id, record in zip(job_ids, records, strict=True):
            assert record["output"]["assistant_response_text"] == f"answer to {job_id}/round:0"
        assert api.files_uploaded == 1
        assert api.batches_created == 1
        creates = [r for r in api.requests if r.method == "POST" and r.path.endswith("/batches")]
        assert len(creates) == 1
        wait_for(lambda: client.batch_groups()[0]["state"] == "done", 20)


def _ended(client: Any, job_id: str) -> bool:
    return client.result(job_id)["status"] in ("succeeded", "failed")
