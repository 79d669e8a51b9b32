"""Webhooks end to end: a producing client, real Redis, one real worker process for the
module, a local provider and local receivers that count what they are sent.

Crashes mid-delivery are in ``tests/faults/test_webhook_crashes.py``.
"""

from __future__ import annotations

import base64
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from real_services import WorkerProcess, worker_env
from standardwebhooks.webhooks import Webhook as ReferenceWebhook
from support import (
    SECRET_KEY,
    Reply,
    WireServer,
    chat_completion,
    dump_value,
    free_port,
    leaks,
    make_configuration,
    wait_for,
)

from worker.client import Client
from worker.configurations import Configuration
from worker.queue.launch import worker_command
from worker.redaction import secret_forms
from worker.settings import Settings
from worker.webhooks import verify

pytestmark = pytest.mark.integration
SECRET = "whsec_" + base64.b64encode(b"integration-webhook-secret-0123456").decode()
OPERATION = "chat_completions_without_history"
MAX_OUTPUT_BYTES = 2000
#: Every run of 12 characters of the webhook secret: none may be stored or logged.
SECRET_FRAGMENTS = {
    form[i : i + 12].encode() for form in secret_forms(SECRET) for i in range(len(form) - 11)
}


@dataclass
class Deployment:
    client: Client
    provider: WireServer
    worker: WorkerProcess


@pytest.fixture(scope="module")
def deployment(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One namespace, provider and worker process for every test of this module: webhooks
    signed with SECRET, receivers on 127.0.0.1 allowed, retries every half second."""
    namespace = f"owtest-{uuid.uuid4().hex[:12]}"
    provider = WireServer()
    settings = Settings(redis_url=redis_url, namespace=namespace, secret_keys=(SECRET_KEY,))
    client = Client(settings, url=redis_url)
    client.configurations().save(make_configuration("openai", provider.url))
    log_path = tmp_path_factory.mktemp("webhooks") / "worker.log"
    env = worker_env(
        redis_url,
        namespace,
        OPENAI_WORKER_WEBHOOK_SECRET=SECRET,
        OPENAI_WORKER_WEBHOOK_ALLOW_HOSTS="127.0.0.1",
        OPENAI_WORKER_WEBHOOK_BACKOFF_BASE_S="0.2",
        OPENAI_WORKER_WEBHOOK_BACKOFF_MAX_S="0.5",
        OPENAI_WORKER_WEBHOOK_TIMEOUT_S="5",
        OPENAI_WORKER_WEBHOOK_MAX_OUTPUT_BYTES=str(MAX_OUTPUT_BYTES),
        OPENAI_WORKER_PUBLIC_API_URL="https://jobs.example.com",
        # A job's own retry comes 1-2 s later: time to cancel it meanwhile.
        OPENAI_WORKER_BACKOFF_BASE_S="2",
    )
    with open(log_path, "wb") as log:
        process = subprocess.Popen(worker_command(1, 4), env=env, stdout=log, stderr=log)
    worker = WorkerProcess(process, Path(log_path))
    wait_for(lambda: "Worker process is ready" in worker.log() or process.poll() is not None, 60)
    assert process.poll() is None, worker.log()
    yield Deployment(client, provider, worker)
    worker.stop()
    client.close()
    provider.close()
    store = redis.Redis.from_url(redis_url)
    keys = list(store.scan_iter(match=f"{namespace}:*", count=1000))
    stored = [dump_value(store, key) for key in keys]
    for key in keys:
        store.delete(key)
    store.close()
    written = [*stored, worker.log().encode()]
    assert not any(leaks(data) for data in written), "a test key in Redis or the worker log"
    assert not any(fragment in data for data in written for fragment in SECRET_FRAGMENTS), (
        "a piece of the webhook secret in Redis or the worker log"
    )


@pytest.fixture
def deployed(deployment: Deployment) -> Deployment:
    """The module's deployment, its provider answering anew."""
    deployment.provider.requests.clear()
    deployment.provider.handler = lambda _: Reply(json=chat_completion())
    return deployment


def prompt(**extra: Any) -> dict[str, Any]:
    return {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "Say hi", **extra}


def webhook_state(client: Client, job_id: str, *statuses: str, timeout_s: float = 30) -> Any:
    """The job's record once its webhook reaches one of ``statuses``."""
    found: dict[str, Any] = {}

    def reached() -> bool:
        found["record"] = client.result(job_id)
        return (found["record"] or {}).get("webhook", {}).get("status") in statuses

    wait_for(reached, timeout_s)
    return found["record"]


def test_a_finished_job_posts_its_signed_record_to_its_callback_url(
    deployed: Deployment, receiver: WireServer
) -> None:
    job_id = deployed.client.submit(OPERATION, prompt(callback_url=f"{receiver.url}/hooks/jobs"))

    record = webhook_state(deployed.client, job_id, "delivered")

    assert len(receiver.requests) == 1
    got = receiver.last
    assert (got.method, got.path) == ("POST", "/hooks/jobs")
    event = verify(SECRET, got.headers, got.body)
    assert ReferenceWebhook(SECRET).verify(got.body, got.headers) == event
    webhook = record.pop("webhook")
    assert got.headers["webhook-id"] == webhook["id"]
    assert event["type"] == "job.succeeded"
    assert event["data"] == {
        **record,
        "output_omitted": False,
        "links": {"result": f"https://jobs.example.com/v1/jobs/{job_id}"},
    }
    assert event["data"]["output"]["assistant_response_text"] == "Hello from the wire server."
    assert webhook["attempts"] == 1
    assert webhook["last_status_code"] == 204
    assert len(deployed.provider.requests) == 1


def test_a_receiver_down_for_a_while_gets_the_webhook_once_it_is_back(
    deployed: Deployment,
) -> None:
    # Given a callback_url where nothing listens yet
    port = free_port()
    job_id = deployed.client.submit(OPERATION, prompt(callback_url=f"http://127.0.0.1:{port}/h"))

    # When attempts have been refused a few times
    down = webhook_state(deployed.client, job_id, "retrying")
    wait_for(lambda: deployed.client.result(job_id)["webhook"]["attempts"] >= 3)
    assert "refused" in down["webhook"]["last_error"]
    assert deployed.client.result(job_id)["status"] == "succeeded"

    # and the receiver comes back, answering 503 once, then 204
    receiver = WireServer(port=port)
    try:
        receiver.script(Reply(503, body=b"starting", headers={"Retry-After": "0"}))
        receiver.handler = lambda _: Reply(204, body=b"")
        record = webhook_state(deployed.client, job_id, "delivered")
    finally:
        receiver.close()

    # Then it got the webhook after its 503, both times under the same id and verifiable,
    # and the job itself ran once
    assert len(receiver.requests) == 2
    assert {r.headers["webhook-id"] for r in receiver.requests} == {record["webhook"]["id"]}
    for request in receiver.requests:
        assert verify(SECRET, request.headers, request.body)["data"]["job_id"] == job_id
    assert record["webhook"]["attempts"] >= 5
    assert len(deployed.provider.requests) == 1
    assert record["attempts"] == 1


def test_a_configurations_callback_url_serves_jobs_without_their_own(
    deployed: Deployment, receiver: WireServer
) -> None:
    base = make_configuration("openai", deployed.provider.url, name="hooked")
    hooked = Configuration(
        **{**base.public_dict(), "api_key": base.api_key, "callback_url": f"{receiver.url}/conf"}
    )
    deployed.client.configurations().save(hooked)

    by_default = deployed.client.submit(OPERATION, prompt(configuration="hooked"))
    own = deployed.client.submit(
        OPERATION, prompt(configuration="hooked", callback_url=f"{receiver.url}/own")
    )
    webhook_state(deployed.client, by_default, "delivered")
    webhook_state(deployed.client, own, "delivered")

    paths = {r.path: verify(SECRET, r.headers, r.body)["data"]["job_id"] for r in receiver.requests}
    assert paths == {"/conf": by_default, "/own": own}


def test_jobs_refused_by_their_schema_or_cancelled_get_their_webhooks_too(
    deployed: Deployment, receiver: WireServer
) -> None:
    url = f"{receiver.url}/hook"
    # A payload the schema refuses, enqueued without the client's check
    refused = deployed.client.submit(
        OPERATION, prompt(callback_url=url, temperature="hot"), validate=False
    )
    # A job cancelled while it waits for its retry (its message still comes to a worker)
    deployed.provider.handler = lambda _: Reply(500, json={"error": {"message": "down"}})
    cancelled = deployed.client.submit(OPERATION, prompt(callback_url=url))
    wait_for(lambda: deployed.client.result(cancelled)["status"] == "retrying")
    assert deployed.client.cancel(cancelled) == "retrying"

    webhook_state(deployed.client, refused, "delivered")
    webhook_state(deployed.client, cancelled, "delivered")

    events = {
        event["data"]["job_id"]: event
        for event in (verify(SECRET, r.headers, r.body) for r in receiver.requests)
    }
    assert len(receiver.requests) == 2
    assert events[refused]["type"] == "job.failed"
    assert events[refused]["data"]["error"]["type"] == "validation"
    assert "temperature" in events[refused]["data"]["error"]["message"]
    assert events[cancelled]["type"] == "job.failed"
    assert events[cancelled]["data"]["error"]["type"] == "cancelled"
    assert len(deployed.provider.requests) == 1  # the cancelled job's one attempt


def test_a_loopback_address_not_allowed_is_refused_with_a_clear_error(
    deployed: Deployment,
) -> None:
    elsewhere = WireServer(host="127.0.0.2")  # loopback, and not the allowed 127.0.0.1
    try:
        url = f"https://127.0.0.2:{elsewhere.port}/hook"
        job_id = deployed.client.submit(OPERATION, prompt(callback_url=url))

        record = webhook_state(deployed.client, job_id, "failed")

        assert record["status"] == "succeeded"
        assert "loopback, private or reserved" in record["webhook"]["last_error"]
        assert record["webhook"]["attempts"] == 1
        time.sleep(0.3)
        assert elsewhere.requests == []
    finally:
        elsewhere.close()


def test_an_output_over_the_limit_is_left_out_with_a_link_to_it(
    deployed: Deployment, receiver: WireServer
) -> None:
    long_answer = "word " * 1000
    deployed.provider.handler = lambda _: Reply(json=chat_completion(long_answer))
    job_id = deployed.client.submit(OPERATION, prompt(callback_url=f"{receiver.url}/hook"))

    record = webhook_state(deployed.client, job_id, "delivered")

    event = verify(SECRET, receiver.last.headers, receiver.last.body)
    assert event["data"]["output"] is None
    assert event["data"]["output_omitted"] is True
    assert event["data"]["links"]["result"] == f"https://jobs.example.com/v1/jobs/{job_id}"
    assert event["data"]["usage"] == record["usage"]
    assert record["output"]["assistant_response_text"] == long_answer
    assert len(receiver.last.body) < MAX_OUTPUT_BYTES
