"""How soon a wait returns after its job's final write (p50/p99): ``Client.wait`` one at
a time, and a thousand concurrent ``AsyncClient.wait`` on one event loop.

The bench writes each final record itself, through the result store as a worker does,
and notes the time just before the write; the waiting code notes when its wait
returned, in the same process on the same clock. So the figure is the notification's
whole path (the write's PUBLISH, the subscriber connection, the wait's read of the
record), with the write's own round trip in it; no worker is involved. Each wait has
subscribed and read its queued record before the write, as a wait on a running job has.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

from bench.harness import Bench, percentile

OPERATION = "chat_completions_without_history"
#: Between two final writes of the concurrent round: the waits end one by one.
WRITE_GAP_S = 0.001


def _queued(bench: Bench) -> dict[str, Any]:
    from worker.results import new_record

    record = new_record(uuid.uuid4().hex, OPERATION, "bench")
    bench.client.results.submit(record, OPERATION, {"configuration": "bench"})
    return record


def _final(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "status": "succeeded", "success": True, "attempts": 1}


def _subscribed(bench: Bench, job_ids: list[str], timeout_s: float = 30) -> None:
    """Wait until Redis counts a subscriber on each job's channel, and the waits have
    had time to read their queued records."""
    channels = [bench.client.keys.job_ended(job_id) for job_id in job_ids]
    deadline = time.monotonic() + timeout_s
    for start in range(0, len(channels), 500):
        chunk = channels[start : start + 500]
        while not all(count for _, count in bench.client.redis.pubsub_numsub(*chunk)):
            if time.monotonic() > deadline:
                raise TimeoutError("the waits did not subscribe")
            time.sleep(0.001)
    time.sleep(0.005 if len(job_ids) == 1 else 0.5)


def _figures(prefix: str, latencies_s: list[float]) -> dict[str, Any]:
    ms = [value * 1000 for value in latencies_s]
    return {
        f"{prefix}_waits": len(ms),
        f"{prefix}_p50_ms": round(percentile(ms, 0.5), 2),
        f"{prefix}_p99_ms": round(percentile(ms, 0.99), 2),
        f"{prefix}_max_ms": round(max(ms), 2),
    }


def blocking_waits(bench: Bench, waits: int) -> list[float]:
    """``Client.wait`` in a thread, one job at a time: seconds from write to return."""
    latencies = []
    for _ in range(waits):
        record = _queued(bench)
        returned: list[float] = []

        def wait(job_id: str = record["job_id"], into: list[float] = returned) -> None:
            bench.client.wait(job_id, 30)
            into.append(time.perf_counter())

        waiter = threading.Thread(target=wait)
        waiter.start()
        _subscribed(bench, [record["job_id"]])
        written = time.perf_counter()
        bench.client.results.put(_final(record))
        waiter.join(30)
        latencies.append(returned[0] - written)
    return latencies


def concurrent_waits(bench: Bench, waits: int) -> list[float]:
    """``waits`` concurrent ``AsyncClient.wait`` on one loop (in a thread), their jobs
    ending one by one: seconds from each job's write to its wait's return."""
    from worker.async_client import AsyncClient

    records = [_queued(bench) for _ in range(waits)]
    returned: dict[str, float] = {}

    async def wait_all() -> None:
        async with AsyncClient(bench.client.settings, url=bench.client.url) as client:

            async def wait(job_id: str) -> None:
                await client.wait(job_id, 120)
                returned[job_id] = time.perf_counter()

            await asyncio.gather(*(wait(record["job_id"]) for record in records))

    waiting = threading.Thread(target=asyncio.run, args=(wait_all(),))
    waiting.start()
    _subscribed(bench, [record["job_id"] for record in records])
    written = {}
    for record in records:
        written[record["job_id"]] = time.perf_counter()
        bench.client.results.put(_final(record))
        time.sleep(WRITE_GAP_S)
    waiting.join(120)
    return [returned[job_id] - at for job_id, at in written.items()]


def measure(bench: Bench, blocking: int, concurrent: int) -> dict[str, Any]:
    return {
        **_figures("client_wait", blocking_waits(bench, blocking)),
        **_figures("async_wait", concurrent_waits(bench, concurrent)),
    }
