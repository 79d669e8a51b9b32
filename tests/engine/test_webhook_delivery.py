"""Webhook attempts in one process: real Redis, a real receiver over HTTP, the real stores.

The queue is a list here (what a delivery message would carry); the worker processes
that send those messages are in ``tests/integration/test_webhooks.py``.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from support import SECRET_KEY, Reply, WireServer, make_configuration

from worker.configurations import Configuration, ConfigurationStore, KeyRing, RedisBackend
from worker.engine.webhooks import Webhooks, webhook_id
from worker.keys import Keys
from worker.results import Deliveries, RedisResultStore, new_record, now_iso
from worker.retries import WebhookRetries
from worker.settings import Settings, WebhookSettings
from worker.webhooks import verify

SECRET = "whsec_" + base64.b64encode(b"engine-test-webhook-secret-0123").decode()
OPERATION = "chat_completions_without_history"


class ListQueue:
    """The queue's part: the delivery messages sent, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def deliver(self, job_id: str, webhook_id: str) -> None:
        self.sent.append((job_id, webhook_id))


class Harness:
    def __init__(self, client: redis.Redis, namespace: str, **webhook_settings: Any) -> None:
        keys = Keys(namespace)
        self.settings = Settings(
            namespace=namespace,
            secret_keys=(SECRET_KEY,),
            connect_timeout_s=2,
            webhooks=WebhookSettings(
                **{
                    "secrets": (SECRET,),
                    "allow_hosts": ("127.0.0.1",),
                    "timeout_s": 3,
                    **webhook_settings,
                }
            ),
        )
        self.results = RedisResultStore(client, keys, 600)
        self.deliveries = Deliveries(client, keys)
        self.queue = ListQueue()
        self.webhooks = Webhooks(
            settings=self.settings,
            results=self.results,
            deliveries=self.deliveries,
            configurations=ConfigurationStore(RedisBackend(client, keys), KeyRing([SECRET_KEY])),
            queue=self.queue,
            retries=WebhookRetries(
                backoff_base_s=0.01,
                backoff_max_s=0.05,
                max_age_s=self.settings.webhooks.max_age_s,
            ),
        )

    def finished_job(self, url: str, *, output: Any = None, status: str = "succeeded") -> Any:
        """A job submitted with ``url`` as its callback_url, and its final record."""
        job_id = uuid.uuid4().hex
        payload = {"configuration": "test", "user_prompt": "hi", "callback_url": url}
        record = new_record(job_id, OPERATION, "test")
        self.results.submit(record, OPERATION, payload)
        record.update(
            status=status,
            success=status == "succeeded",
            output=output or {"assistant_response_text": "hello", "finish_reason": "stop"},
            attempts=1,
            started_at=now_iso(),
            finished_at=now_iso(),
        )
        assert self.results.put(record)
        return record

    def end(self, record: dict[str, Any]) -> str:
        """The runner's part: the job ended; its webhook queued. The webhook id."""
        self.webhooks.job_ended(record, None, fresh=True)
        job_id, hook = self.queue.sent[-1]
        assert job_id == record["job_id"]
        return hook

    def drive(self, job_id: str, hook: str, *, limit: int = 100) -> int:
        """Attempts until the webhook is delivered or given up, waiting as asked; how many."""
        for attempt in range(1, limit + 1):
            delay_s = self.webhooks.deliver(job_id, hook)
            if delay_s is None:
                return attempt
            time.sleep(delay_s)
        raise AssertionError("never ended")


@pytest.fixture
def harness(redis_url: str, namespace: str) -> Iterator[Any]:
    client = redis.Redis.from_url(redis_url)

    def build(**webhook_settings: Any) -> Harness:
        return Harness(client, namespace, **webhook_settings)

    yield build
    client.close()


def test_a_webhook_carries_the_signed_final_record_once(harness: Any, receiver: Any) -> None:
    h = harness()
    record = h.finished_job(f"{receiver.url}/hook")

    hook = h.end(record)
    assert h.deliveries.state(record["job_id"])["status"] == "pending"
    assert h.drive(record["job_id"], hook) == 1

    got = receiver.last
    event = verify(SECRET, got.headers, got.body)
    assert got.headers["webhook-id"] == hook == webhook_id(record)
    assert event["type"] == "job.succeeded"
    assert event["timestamp"] == record["finished_at"]
    assert event["data"] == {**record, "output_omitted": False, "links": {"result": None}}
    state = h.deliveries.state(record["job_id"])
    assert state["status"] == "delivered"
    assert state["attempts"] == 1
    assert state["last_status_code"] == 204
    # A later message for the same webhook (a duplicate) sends nothing more.
    assert h.webhooks.deliver(record["job_id"], hook) is None
    assert len(receiver.requests) == 1


def test_an_output_over_the_limit_is_left_out_with_a_link_to_fetch_it(
    harness: Any, receiver: Any
) -> None:
    h = harness(max_output_bytes=1000, public_api_url="https://jobs.example.com")
    big = {"assistant_response_text": "x" * 5000, "finish_reason": "stop"}
    record = h.finished_job(f"{receiver.url}/hook", output=big)

    h.drive(record["job_id"], h.end(record))

    event = verify(SECRET, receiver.last.headers, receiver.last.body)
    assert event["data"]["output"] is None
    assert event["data"]["output_omitted"] is True
    assert event["data"]["links"] == {
        "result": f"https://jobs.example.com/v1/jobs/{record['job_id']}"
    }
    assert event["data"]["usage"] == record["usage"]
    assert len(receiver.last.body) < 2000


def test_a_receiver_answering_410_gone_is_not_asked_again(harness: Any, receiver: Any) -> None:
    h = harness()
    receiver.handler = lambda _: Reply(410, body=b"")
    record = h.finished_job(f"{receiver.url}/hook")

    assert h.drive(record["job_id"], h.end(record)) == 1

    state = h.deliveries.state(record["job_id"])
    assert (state["status"], state["last_status_code"]) == ("gone", 410)
    assert len(receiver.requests) == 1


def test_failures_are_retried_with_one_webhook_id_until_the_max_age(
    harness: Any, receiver: Any
) -> None:
    # Given a receiver that always fails and a webhook kept for 0.5 s
    h = harness(max_age_s=0.5)
    receiver.handler = lambda _: Reply(500, body=b"oops")
    record = h.finished_job(f"{receiver.url}/hook")

    # When it is driven as the queue would, each retry after the delay asked
    attempts = h.drive(record["job_id"], h.end(record))

    # Then every attempt reached the receiver with the same id, and it was given up
    assert attempts >= 3
    assert len(receiver.requests) == attempts
    assert {r.headers["webhook-id"] for r in receiver.requests} == {webhook_id(record)}
    state = h.deliveries.state(record["job_id"])
    assert state["status"] == "failed"
    assert state["attempts"] == attempts
    assert f"given up after {attempts} attempts" in state["last_error"]
    assert "HTTP 500" in state["last_error"]


def test_the_receivers_retry_after_is_honoured(harness: Any, receiver: Any) -> None:
    h = harness()
    h.webhooks.retries = replace(h.webhooks.retries, backoff_max_s=3600)
    receiver.handler = lambda _: Reply(503, body=b"", headers={"Retry-After": "30"})
    record = h.finished_job(f"{receiver.url}/hook")

    delay_s = h.webhooks.deliver(record["job_id"], h.end(record))

    assert delay_s is not None
    assert 30 <= delay_s <= 33
    state = h.deliveries.state(record["job_id"])
    assert (state["status"], state["last_status_code"]) == ("retrying", 503)
    assert state["next_attempt_at"] > state["last_attempt_at"]


def test_a_loopback_url_not_allowed_fails_at_once_and_sends_nothing(harness: Any) -> None:
    h = harness()
    other = WireServer(host="127.0.0.2")  # loopback, but not the allowed 127.0.0.1
    try:
        # (https: plain http to a host not allowed is refused before any address is checked)
        record = h.finished_job(f"https://127.0.0.2:{other.port}/hook")

        assert h.drive(record["job_id"], h.end(record)) == 1

        state = h.deliveries.state(record["job_id"])
        assert state["status"] == "failed"
        assert "loopback, private or reserved" in state["last_error"]
        assert "OPENAI_WORKER_WEBHOOK_ALLOW_HOSTS" in state["last_error"]
        time.sleep(0.2)
        assert other.requests == []
    finally:
        other.close()


def test_a_job_retried_by_an_operator_gets_a_new_webhook_and_the_old_one_stops(
    harness: Any, receiver: Any
) -> None:
    # Given a failed job whose webhook is queued, then retried and ended again
    h = harness()
    first = h.finished_job(f"{receiver.url}/hook", status="failed")
    old = h.end(first)
    fresh = new_record(first["job_id"], OPERATION, "test")
    assert h.results.requeue_failed(fresh) == ""
    time.sleep(0.002)  # another millisecond: another finished_at
    second = {**fresh, "status": "succeeded", "success": True, "finished_at": now_iso()}
    h.results.put(second)
    new = h.end(second)
    assert new != old

    # When the old webhook's message comes, then the new one's
    assert h.webhooks.deliver(first["job_id"], old) is None
    assert receiver.requests == []
    assert h.drive(first["job_id"], new) == 1

    # Then only the new end was sent, under its own id
    assert [r.headers["webhook-id"] for r in receiver.requests] == [new]
    assert verify(SECRET, receiver.last.headers, receiver.last.body)["type"] == "job.succeeded"
    assert h.deliveries.state(first["job_id"])["id"] == new


def test_a_job_found_ended_again_queues_its_webhook_only_if_it_never_was(
    harness: Any, receiver: Any
) -> None:
    # Given a job whose final record was written by a worker that died before queueing
    # its webhook (the runner's window between the two)
    h = harness()
    record = h.finished_job(f"{receiver.url}/hook")

    # When its message is delivered again and the runner finds it final, twice
    h.webhooks.job_ended(record, None, fresh=False)
    h.webhooks.job_ended(record, None, fresh=False)

    # Then its webhook was queued once, under the id the record gives it
    assert h.queue.sent == [(record["job_id"], webhook_id(record))]


def test_a_job_without_a_callback_url_queues_nothing(harness: Any) -> None:
    h = harness()
    record = new_record(uuid.uuid4().hex, OPERATION, "test")
    h.results.submit(record, OPERATION, {"configuration": "test", "user_prompt": "hi"})

    h.webhooks.job_ended({**record, "status": "failed", "finished_at": now_iso()}, None, fresh=True)

    assert h.queue.sent == []
    assert h.deliveries.state(record["job_id"]) is None


def test_a_worker_without_a_secret_records_why_a_webhook_was_not_sent(
    harness: Any, receiver: Any
) -> None:
    h = harness(secrets=())
    record = h.finished_job(f"{receiver.url}/hook", status="failed")

    h.webhooks.job_ended(record, None, fresh=True)

    assert h.queue.sent == []
    state = h.deliveries.state(record["job_id"])
    assert state["status"] == "failed"
    assert "OPENAI_WORKER_WEBHOOK_SECRET" in state["last_error"]


@pytest.mark.parametrize("where", ["payload", "configuration"])
def test_a_job_asking_for_a_webhook_no_worker_can_sign_fails_before_any_call(
    where: str, run_job: Any, wire_server: Any
) -> None:
    # Given a worker without OPENAI_WORKER_WEBHOOK_SECRET and a job whose webhook would
    # go to a URL named by its payload, or by its configuration
    url = "https://hooks.example.com/jobs"
    configuration = make_configuration("openai", wire_server.url)
    if where == "configuration":
        configuration = Configuration(
            **{**configuration.public_dict(), "api_key": configuration.api_key, "callback_url": url}
        )
    payload = {"configuration": "test", "model": "m", "user_prompt": "hi"}
    if where == "payload":
        payload["callback_url"] = url

    # When it runs
    record = run_job(configuration).run(OPERATION, payload)

    # Then it fails, saying what to set, and nothing was sent to the provider
    assert record["status"] == "failed"
    assert record["error"]["type"] == "configuration"
    assert "OPENAI_WORKER_WEBHOOK_SECRET" in record["error"]["message"]
    assert wire_server.requests == []
