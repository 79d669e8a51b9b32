"""Waits block on the job's ended channel: they read the record when the subscription is
confirmed, take the final one from the message that says the job ended (or read it, if
too long to carry), nothing in between, and read again whenever a notification may
have been missed. Redis's own log of commands (MONITOR) counts reads.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
from support import SECRET_KEY, CommandLog, make_configuration, wait_for

from worker import AsyncClient
from worker.client import Client
from worker.embedded_redis import redis_server_binary
from worker.results import new_record
from worker.results.store import NOTICE_RECORD_MAX_CHARS
from worker.settings import Settings

pytestmark = pytest.mark.integration
OPERATION = "chat_completions_without_history"
#: The jobs of the thousand-waits proof.
JOBS = 1000


class Waiting:
    """``client.wait(job_id, timeout_s)`` in a thread; when it returned, and what."""

    def __init__(self, client: Client, job_id: str, timeout_s: float = 20) -> None:
        self.record: Any = None
        self.returned = 0.0
        self.thread = threading.Thread(target=self._wait, args=(client, job_id, timeout_s))
        self.thread.start()

    def _wait(self, client: Client, job_id: str, timeout_s: float) -> None:
        self.record = client.wait(job_id, timeout_s)
        self.returned = time.monotonic()

    def result(self, timeout_s: float = 20) -> Any:
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "the wait did not return"
        return self.record


def queued(client: Client) -> dict[str, Any]:
    """A job's queued record in the store (no message: nothing will run it)."""
    record = new_record(uuid.uuid4().hex, OPERATION, "main")
    client.results.submit(record, OPERATION, {"configuration": "main"})
    return record


def succeeded(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "status": "succeeded", "success": True, "attempts": 1}


@pytest.mark.parametrize(
    ("output", "reads"),
    [(None, 1), ({"text": "x" * NOTICE_RECORD_MAX_CHARS}, 2)],
    ids=["carried by the ended message", "too long to carry: read"],
)
def test_a_wait_reads_once_then_wakes_at_the_final_write(
    client: Client, redis_url: str, output: Any, reads: int
) -> None:
    job = queued(client)
    key = client.keys.job(job["job_id"])
    log = CommandLog(redis_url)
    try:
        waiting = Waiting(client, job["job_id"])
        wait_for(lambda: log.record_reads(key) == 1, 10)  # subscribed, then read
        time.sleep(0.5)  # a poll would have read it four more times by now
        assert log.record_reads(key) == 1

        written = time.monotonic()
        client.results.put({**succeeded(job), "output": output})
        record = waiting.result()
    finally:
        log.close()

    assert record["status"] == "succeeded"
    assert waiting.returned - written < 0.5
    # Read again only when the ended message said just "succeeded"
    assert log.record_reads(key) == reads
    assert record == client.result(job["job_id"])


def test_a_job_that_ended_before_the_wait_is_read_once_at_once(
    client: Client, redis_url: str
) -> None:
    job = queued(client)
    client.results.put(succeeded(job))
    log = CommandLog(redis_url)
    try:
        started = time.monotonic()
        record = client.wait(job["job_id"], 20)
        took = time.monotonic() - started
    finally:
        log.close()

    assert record["status"] == "succeeded"
    assert took < 1.0
    assert log.record_reads(client.keys.job(job["job_id"])) == 1


def test_a_wait_that_runs_out_returns_the_latest_record_read_then(
    client: Client, redis_url: str
) -> None:
    job = queued(client)
    log = CommandLog(redis_url)
    try:
        started = time.monotonic()
        record = client.wait(job["job_id"], 0.6)
        took = time.monotonic() - started
    finally:
        log.close()

    assert record == job
    assert 0.6 <= took < 1.5
    assert log.record_reads(client.keys.job(job["job_id"])) == 2  # subscribed; time up


def test_a_missed_notification_is_made_good_when_the_subscriber_connects_again(
    client: Client, redis_url: str
) -> None:
    # Given a wait that has subscribed and read its queued job
    job = queued(client)
    key = client.keys.job(job["job_id"])
    channel = client.keys.job_ended(job["job_id"])
    log = CommandLog(redis_url)
    try:
        waiting = Waiting(client, job["job_id"])
        wait_for(lambda: log.record_reads(key) == 1, 10)

        # When the record turns final with no notification (written by hand, as if the
        # message had been lost), the wait does not hear of it
        final = succeeded(job)
        client.redis.hset(key, mapping={"status": "succeeded", "record": json.dumps(final)})
        time.sleep(0.3)
        assert waiting.thread.is_alive()

        # And when its subscriber connection is then killed
        killed = time.monotonic()
        # (every subscriber of the test Redis: any other connects again just the same)
        assert client.redis.client_kill_filter(_type="pubsub") >= 1
        record = waiting.result()
    finally:
        log.close()

    # Then it connects again, subscribes again and reads the final record at once
    assert record == final
    assert waiting.returned - killed < 2.0
    assert log.record_reads(key) == 2
    assert client.redis.pubsub_numsub(channel) == [(channel.encode(), 0)]  # unsubscribed


@pytest.fixture
def tcp_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own on a TCP port: MONITOR tells its clients apart
    (by port), and its users can be given ACLs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            redis_server_binary(),
            *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--dir", str(tmp_path)),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    probe_client = redis.Redis.from_url(url)
    wait_for(lambda: _answers(probe_client), 10)
    probe_client.close()
    yield url
    server.terminate()
    server.wait(timeout=10)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_a_producer_that_may_not_subscribe_still_waits_by_polling(
    tcp_redis: str, namespace: str
) -> None:
    # Given a producer whose Redis user may do anything but subscribe
    admin = redis.Redis.from_url(tcp_redis)
    admin.acl_setuser(
        "producer", enabled=True, passwords=["+producer-pw"], keys=["*"], channels=["*"],
        commands=["+@all", "-subscribe"],
    )  # fmt: skip
    url = tcp_redis.replace("redis://", "redis://producer:producer-pw@")
    producer = Client(Settings(redis_url=url, namespace=namespace), url=url)
    try:
        job = queued(producer)
        waiting = Waiting(producer, job["job_id"])

        # When it waits, it reads with a back-off (the subscription is refused)
        time.sleep(1.0)
        assert waiting.thread.is_alive()
        stats = admin.info("commandstats")
        assert stats.get("cmdstat_hmget", {}).get("calls", 0) >= 4

        # And it still returns the final record within its back-off of a second
        written = time.monotonic()
        producer.results.put(succeeded(job))
        record = waiting.result()
    finally:
        producer.close()
        admin.close()

    assert record["status"] == "succeeded"
    assert waiting.returned - written < 1.5


def _ports_to(port: int) -> set[int]:
    """This process's local ports of its TCP connections to ``port``."""
    return {
        conn.laddr.port
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port
    }


def test_a_thousand_concurrent_async_waits_hear_their_jobs_end_without_polling(
    tcp_redis: str, namespace: str, start_worker: Any, wire_server: Any
) -> None:
    settings = Settings(redis_url=tcp_redis, namespace=namespace, secret_keys=(SECRET_KEY,))
    setup = Client(settings, url=tcp_redis)
    setup.configurations().save(make_configuration("openai", wire_server.url))
    setup.close()
    redis_port = int(tcp_redis.rsplit(":", 1)[1].split("/")[0])
    log: CommandLog | None = None

    async def produce() -> tuple[list[str], list[Any], set[int], float]:
        nonlocal log
        async with AsyncClient(settings, url=tcp_redis) as producer:
            # Given a thousand jobs submitted at once, and no worker yet
            job_ids = await asyncio.gather(
                *(
                    producer.submit(OPERATION, {**prompt, "user_prompt": f"Say hi to {n}"})
                    for n in range(JOBS)
                )
            )
            before = _ports_to(redis_port)
            log = CommandLog(tcp_redis)
            # When a thousand waits start, and only then a worker
            waits = [asyncio.create_task(producer.wait(job_id, 120)) for job_id in job_ids]
            started = time.monotonic()
            await asyncio.to_thread(start_worker, threads=8, REDIS_URL=tcp_redis)
            records = await asyncio.gather(*waits)
            took = time.monotonic() - started
            # The producer's connections: its pool's and its subscriber's.
            return job_ids, records, (_ports_to(redis_port) | before), took

    prompt = {"configuration": "test", "model": "gpt-4o-mini"}
    job_ids, records, ports, took = asyncio.run(produce())
    assert log is not None
    commands = log.close()

    # Then every wait returns its own final record
    assert [r["job_id"] for r in records] == job_ids
    assert Counter(r["status"] for r in records) == {"succeeded": JOBS}
    assert len(wire_server.requests) == JOBS
    # And while the jobs ran (seconds), the producer read each record at most once, when
    # its subscription was confirmed (its end's message carried the record): no polling
    producer_commands = [
        args
        for source, args in commands
        if source != "lua" and int(source.rsplit(":", 1)[-1]) in ports
    ]
    by_name = Counter(args[0].upper() for args in producer_commands)
    reads = by_name.pop("HMGET", 0)
    assert reads <= JOBS, (reads, took)
    assert set(by_name) <= {"SUBSCRIBE", "UNSUBSCRIBE", "ECHO"}, by_name
    assert by_name["SUBSCRIBE"] <= JOBS
    assert by_name["UNSUBSCRIBE"] == JOBS
    print(f"{JOBS} waits over {took:.1f} s: {reads} record reads, {dict(by_name)}")
