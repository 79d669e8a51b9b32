"""Result records: written at each change, final ones never regress, keys expire."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from worker.keys import Keys
from worker.results import MemoryResultStore, RedisResultStore, new_record


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, redis_url: str, namespace: str) -> Any:
    if request.param == "memory":
        return MemoryResultStore(ttl_s=60)
    return RedisResultStore(redis.Redis.from_url(redis_url), Keys(namespace), ttl_s=60)


def test_a_new_record_reads_back_as_queued(store: Any) -> None:
    store.put(new_record("j1", "configuration_test", "main"))

    record = store.get("j1")

    assert record["status"] == "queued"
    assert record["success"] is None
    assert record["attempts"] == 0
    assert record["enqueued_at"].endswith("Z")


def test_an_unknown_job_has_no_record(store: Any) -> None:
    assert store.get("missing") is None


def test_a_final_record_is_not_overwritten_by_a_late_writer(store: Any) -> None:
    record = new_record("j2", "configuration_test", "main")
    store.put({**record, "status": "succeeded", "success": True})

    written = store.put({**record, "status": "running"})

    assert written is False
    assert store.get("j2")["status"] == "succeeded"


def test_force_overwrites_a_final_record(store: Any) -> None:
    record = new_record("j3", "configuration_test", "main")
    store.put({**record, "status": "failed", "success": False})

    assert store.put({**record, "status": "queued"}, force=True) is True
    assert store.get("j3")["status"] == "queued"


def test_an_idempotency_key_returns_the_first_job_and_writes_nothing(store: Any) -> None:
    first = new_record("first", "configuration_test", "main")
    second = new_record("second", "configuration_test", "main")

    assert store.submit(first, "configuration_test", {"n": 1}, "order-7") == "first"
    assert store.submit(second, "configuration_test", {"n": 2}, "order-7") == "first"
    assert store.get("second") is None
    assert store.load_payload("second") is None


def test_a_withdrawn_submission_frees_its_idempotency_key(store: Any) -> None:
    store.submit(new_record("gone", "configuration_test", "main"), "configuration_test", {}, "k")

    store.withdraw("gone", "k")

    assert store.get("gone") is None
    fresh = new_record("fresh", "configuration_test", "main")
    assert store.submit(fresh, "configuration_test", {}, "k") == "fresh"


def test_payloads_are_kept_for_a_later_retry(store: Any) -> None:
    record = new_record("j4", "configuration_test", "main")
    store.submit(record, "configuration_test", {"configuration": "main"})

    assert store.load_payload("j4") == ("configuration_test", {"configuration": "main"})


def test_only_a_failed_job_is_requeued_and_only_once(store: Any) -> None:
    record = new_record("j7", "configuration_test", "main")
    store.submit(record, "configuration_test", {})
    assert store.requeue_failed(record) == "queued"
    store.put({**record, "status": "failed", "success": False})

    results = [store.requeue_failed(record), store.requeue_failed(record)]

    assert results == ["", "queued"]
    assert store.get("j7")["status"] == "queued"
    assert store.requeue_failed(new_record("nobody", "configuration_test", None)) == "missing"


def test_redis_records_expire_after_the_ttl(redis_url: str, namespace: str) -> None:
    client = redis.Redis.from_url(redis_url)
    store = RedisResultStore(client, Keys(namespace), ttl_s=123)

    store.submit(new_record("j5", "configuration_test", "main"), "configuration_test", {})

    assert 0 < client.ttl(f"{namespace}:job:j5") <= 123
    assert 0 < client.ttl(f"{namespace}:payload:j5") <= 123


def test_submitting_a_job_writes_its_queued_record_and_payload(store: Any) -> None:
    store.submit(
        new_record("j6", "configuration_test", "main"),
        "configuration_test",
        {"configuration": "main"},
    )

    assert store.get("j6")["status"] == "queued"
    assert store.load_payload("j6") == ("configuration_test", {"configuration": "main"})


def test_a_fresh_job_is_read_and_marked_running_in_one_step_once(store: Any) -> None:
    queued = new_record("s1", "chat_completions_without_history", "prod/eu – ünïcode")
    store.submit(queued, "chat_completions_without_history", {"configuration": "x"})

    first, fresh = store.start("s1", "2026-11-22T18:00:00.000Z")
    again, fresh_again = store.start("s1", "2026-11-22T18:00:05.000Z")

    assert fresh is True
    assert fresh_again is False
    expected = {**queued, "status": "running", "attempts": 1}
    expected["started_at"] = "2026-11-22T18:00:00.000Z"
    assert first == expected
    assert list(first) == list(expected)  # in the usual field order
    assert again == expected  # the second call changed nothing
    assert store.get("s1") == expected
    if isinstance(store, RedisResultStore):  # what lists show follows the record
        assert store.recent_jobs(10)[0]["status"] == "running"


@pytest.mark.parametrize(
    "change",
    [
        {"status": "retrying", "attempts": 1, "error": {"type": "provider", "message": "busy"}},
        {"status": "running", "attempts": 1},
        {"status": "succeeded", "success": True, "attempts": 1},
        {"status": "queued", "attempts": 2},  # retried by hand after failures
    ],
)
def test_any_other_record_comes_back_unchanged_for_the_runner(
    store: Any, change: dict[str, Any]
) -> None:
    record = {**new_record("s2", "configuration_test", "main"), **change}
    store.put(record)

    found, fresh = store.start("s2", "2026-11-22T18:00:00.000Z")

    assert fresh is False
    assert found == record
    assert store.get("s2") == record


def test_a_queued_batch_tier_job_is_not_marked_running_but_handed_back_as_it_is(
    store: Any,
) -> None:
    queued = new_record("s3", "chat_completions_without_history", "main", on_expiry="standard")
    store.submit(queued, "chat_completions_without_history", {"configuration": "main"})

    found, fresh = store.start("s3", "2026-11-22T18:00:00.000Z")

    assert fresh is False
    assert found == queued
    assert store.get("s3") == queued


def test_starting_an_unknown_job_finds_nothing(store: Any) -> None:
    assert store.start("nobody", "2026-11-22T18:00:00.000Z") == (None, False)
