"""Submitting through the API: refusals lose nothing and queue nothing, idempotency keys,
long-polls that end when the job does."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from support import Reply, chat_completion, make_configuration, wait_for

pytestmark = pytest.mark.integration
JSON = {"Content-Type": "application/json"}


def chat(**extra: Any) -> dict[str, Any]:
    payload = {"configuration": "main", "model": "gpt-4o-mini", "user_prompt": "Hi", **extra}
    return {"operation": "chat_completions_without_history", "payload": payload}


def jobs_in_redis(client: Any) -> tuple[int, int]:
    """(messages in the queue, job records) of the test's namespace."""
    records = set(client.redis.scan_iter(client.keys.jobs_pattern))  # SCAN may repeat a key
    return client.redis.llen(client.keys.queue), len(records)


def test_refused_requests_point_at_each_field_and_queue_nothing(
    start_api: Any, client: Any
) -> None:
    api = start_api()
    history = {
        "operation": "chat_completions_with_history",
        "payload": {
            "configuration": "main",
            "messages": [{"role": "user", "content": "Hi"}, {"role": "robot", "content": "x"}],
            "temperature": 7,
            "colour": "blue",
        },
    }
    cases = [
        (history, {"/payload/messages/1/role", "/payload/temperature", "/payload/colour"}),
        ({"operation": "translate", "payload": {}, "extra": 1}, {"/operation", "/extra"}),
        ({"operation": "summarize_text"}, {"/payload"}),
        ({**chat(), "tier": "later", "on_expiry": "never"}, {"/tier", "/on_expiry"}),
        ({**chat(), "idempotency_key": 5}, {"/idempotency_key"}),
        ({**chat(idempotency_key="a"), "idempotency_key": "b"}, {"/idempotency_key"}),
        ({**chat(), "idempotency_key": "k" * 201}, {"/idempotency_key"}),
        ({**chat(functions=[{"name": "lookup"}]), "tier": "batch"}, {"/tier"}),
        (
            {
                "operation": "configuration_test",
                "payload": {"configuration": "main"},
                "tier": "batch",
            },
            {"/tier"},
        ),
    ]
    for body, pointers in cases:
        answer = api.post("/v1/jobs", json=body)
        assert answer.status_code == 422, body
        problem = answer.json()
        assert problem["type"] == "urn:openai-worker:problem:validation"
        assert {error["pointer"] for error in problem["errors"]} == pointers, problem
        assert all(error["detail"] for error in problem["errors"])

    # Not one message queued, not one record written
    assert jobs_in_redis(client) == (0, 0)


def test_malformed_and_oversized_bodies_are_refused_whole(start_api: Any, client: Any) -> None:
    api = start_api(OPENAI_WORKER_MAX_PAYLOAD_BYTES="1024")  # limit: 1 KiB + 64 KiB envelope

    for body in (b"", b"{", b"[1, 2]", b'"job"', b"[" * 30_000 + b"]" * 30_000):
        answer = api.post("/v1/jobs", data=body, headers=JSON)
        assert (answer.status_code, answer.json()["title"]) == (
            400,
            "The request body is not a JSON object",
        ), body[:20]

    declared = api.post("/v1/jobs", data=b" " * 70_000, headers=JSON)
    streamed = api.post("/v1/jobs", data=iter([b" " * 40_000] * 2), headers=JSON)  # chunked
    just_over = api.post("/v1/jobs", json=chat(user_prompt="x" * 1100))
    assert declared.status_code == streamed.status_code == 413
    assert declared.json()["type"] == "urn:openai-worker:problem:too-large"
    # A payload over its own limit (within the envelope's) is the client's refusal
    assert just_over.status_code == 422
    assert "OPENAI_WORKER_MAX_PAYLOAD_BYTES" in just_over.json()["detail"]
    assert (
        api.post("/v1/jobs", data=b"{}", headers={"Content-Type": "text/plain"}).status_code == 415
    )

    assert jobs_in_redis(client) == (0, 0)


def test_a_repeated_idempotency_key_gets_the_first_jobs_id(start_api: Any, client: Any) -> None:
    api = start_api()

    first = api.post("/v1/jobs", json={**chat(), "idempotency_key": "order-17"})
    second = api.post("/v1/jobs", json={**chat(), "idempotency_key": "order-17"})
    in_payload = api.post("/v1/jobs", json=chat(idempotency_key="order-17"))
    other = api.post("/v1/jobs", json={**chat(), "idempotency_key": "order-18"})

    assert first.status_code == second.status_code == in_payload.status_code == 202
    assert first.json()["id"] == second.json()["id"] == in_payload.json()["id"]
    assert other.json()["id"] != first.json()["id"]
    assert first.headers["location"] == f"/v1/jobs/{first.json()['id']}"
    assert jobs_in_redis(client) == (2, 2)  # two jobs, each queued once
    stored = client.results.load_payload(first.json()["id"])
    assert stored[1]["idempotency_key"] == "order-17"


@pytest.fixture
def slow_provider(wire_server: Any, client: Any, start_worker: Any) -> Any:
    """A worker whose provider answers after 1.5 s."""
    wire_server.handler = lambda _: Reply(json=chat_completion("slow hello"), delay_s=1.5)
    client.configurations().save(make_configuration("openai", wire_server.url, name="main"))
    start_worker()
    return wire_server


def test_a_long_poll_answers_when_the_job_ends_not_when_the_wait_does(
    start_api: Any, slow_provider: Any
) -> None:
    api = start_api()
    job_id = api.post("/v1/jobs", json=chat()).json()["id"]

    # A short wait ends with the job still unfinished: the latest record
    unfinished = api.get(f"/v1/jobs/{job_id}", params={"wait": "0.3"})
    assert unfinished.status_code == 200
    assert unfinished.json()["status"] in ("queued", "running")

    started = time.monotonic()
    answer = api.get(f"/v1/jobs/{job_id}", params={"wait": "60"})
    held = time.monotonic() - started

    assert answer.json()["status"] == "succeeded"
    assert answer.json()["output"]["assistant_response_text"] == "slow hello"
    # Held while the provider took its time, answered long before the minute was up
    assert 0.5 < held < 30


def test_many_long_polls_wait_at_once(start_api: Any, slow_provider: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    api = start_api()
    ids = [api.post("/v1/jobs", json=chat(user_prompt=f"n{i}")).json()["id"] for i in range(4)]

    with ThreadPoolExecutor(40) as pool:
        polls = [
            pool.submit(api.get, f"/v1/jobs/{ids[i % 4]}", params={"wait": "60"}) for i in range(40)
        ]
        answers = [poll.result() for poll in polls]

    assert [a.json()["status"] for a in answers] == ["succeeded"] * 40
    assert len(slow_provider.requests) == 4


def test_a_long_poll_whose_caller_hangs_up_is_let_go(start_api: Any) -> None:
    # Given a job no worker will run, and a caller that gives up after half a second
    api = start_api()
    job_id = api.post("/v1/jobs", json=chat()).json()["id"]
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{api.url}/v1/jobs/{job_id}", params={"wait": "60"}, timeout=0.5)

    # Then the API stops waiting at once, not when the minute is up
    def finished() -> list[dict[str, Any]]:
        events = [json.loads(line) for line in api.log().splitlines() if line.startswith("{")]
        return [e for e in events if e.get("path") == f"/v1/jobs/{job_id}"]

    wait_for(finished, timeout_s=15)
    assert finished()[0]["duration_ms"] < 5000
