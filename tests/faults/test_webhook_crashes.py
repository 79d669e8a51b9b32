"""A webhook survives its worker: killed mid-delivery, it is delivered by the next one,
under the same webhook-id, and the job is never run again for it."""

from __future__ import annotations

import base64
import threading
from typing import Any

import pytest
from support import Recorded, Reply, WireServer, chat_completion, kill_hard, make_configuration
from support import wait_for as eventually

from worker.webhooks import verify

pytestmark = pytest.mark.integration
SECRET = "whsec_" + base64.b64encode(b"crash-test-webhook-secret-012345").decode()
WEBHOOKS = {
    "OPENAI_WORKER_HEARTBEAT_TIMEOUT_S": "2",
    "OPENAI_WORKER_WEBHOOK_SECRET": SECRET,
    "OPENAI_WORKER_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    # Longer than the receiver holds the first attempt: only the kill ends it.
    "OPENAI_WORKER_WEBHOOK_TIMEOUT_S": "60",
    "OPENAI_WORKER_WEBHOOK_BACKOFF_BASE_S": "0.2",
}


def test_a_worker_killed_mid_delivery_leaves_the_webhook_to_the_next_one(
    client: Any, start_worker: Any, wire_server: Any
) -> None:
    # Given a receiver that holds the first attempt open until told to let go
    released = threading.Event()
    receiver = WireServer()

    def answer(request: Recorded) -> Reply:
        if len(receiver.requests) == 1:
            released.wait(60)
            return Reply(drop=True)  # its worker is gone: nobody reads an answer
        return Reply(204, body=b"")

    receiver.handler = answer
    wire_server.handler = lambda _: Reply(json=chat_completion("done"))
    client.configurations().save(make_configuration("openai", wire_server.url))
    doomed = start_worker(threads=2, **WEBHOOKS)
    try:
        job_id = client.submit(
            "configuration_test",
            {"configuration": "test", "model": "m", "callback_url": f"{receiver.url}/hook"},
        )

        # When the worker is killed while its attempt waits for the receiver's answer
        eventually(lambda: len(receiver.requests) == 1)
        assert client.result(job_id)["webhook"]["status"] == "delivering"
        kill_hard(doomed)
        released.set()
        start_worker(threads=2, **WEBHOOKS)

        # Then the next worker delivers it, under the same webhook-id
        eventually(lambda: client.result(job_id)["webhook"]["status"] == "delivered", 60)
    finally:
        released.set()
        receiver.close()
    record = client.result(job_id)
    assert len(receiver.requests) == 2
    ids = {request.headers["webhook-id"] for request in receiver.requests}
    assert ids == {record["webhook"]["id"]}
    events = [verify(SECRET, r.headers, r.body) for r in receiver.requests]
    assert events[0]["data"] == events[1]["data"]
    assert record["webhook"]["attempts"] == 2

    # and the job ran once: one provider call, one attempt, its record as it was
    assert len(wire_server.requests) == 1
    assert record["status"] == "succeeded"
    assert record["attempts"] == 1
    assert events[1]["data"]["output"] == record["output"]
