"""Redis round trips and CPU per job: submission and one delivery, counted exactly.

The same code path as a worker (``Client.submit``, then the process's ``JobRunner.run``
for each job) against real Redis and the bench server, in this process, so every
command sent by our code is counted: a round trip is one write to a Redis socket (a
pipeline or a Lua script is one). Dramatiq's own fetch and acknowledgement are not
included; they do not change with our code. Prints one JSON line. Usage:

    .venv/bin/python bench/round_trips.py [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class RoundTrips:
    """Counts writes to Redis sockets while installed."""

    def __init__(self) -> None:
        import redis.connection

        self.count = 0
        self._connection = redis.connection.AbstractConnection
        self._send = self._connection.send_packed_command
        counter = self

        def counted(connection: Any, command: Any, check_health: bool = True) -> None:
            counter.count += 1
            counter._send(connection, command, check_health)

        self._connection.send_packed_command = counted  # type: ignore[method-assign]

    def close(self) -> None:
        self._connection.send_packed_command = self._send  # type: ignore[method-assign]


def measure(bench: Any, jobs: int, level: str = "INFO") -> dict[str, Any]:
    """Round trips and CPU per single-call chat job, for submission and for a delivery."""
    from bench.harness import chat_payload
    from worker.logs import configure_logging
    from worker.settings import Settings

    operation = "chat_completions_without_history"
    configure_logging("json", level)  # INFO: as the bench's workers run
    runner = _runner(Settings.from_env(bench.env), bench.redis)
    name = bench.configure(0)
    # Warm up: scripts loaded, connections open, the configuration cached.
    warm = bench.client.submit(operation, chat_payload(name, -1))
    runner.run(warm, operation, chat_payload(name, -1))
    counter = RoundTrips()
    try:
        job_ids = [bench.client.submit(operation, chat_payload(name, i)) for i in range(jobs)]
        submitted = counter.count
        cpu = time.process_time()
        for i, job_id in enumerate(job_ids):
            runner.run(job_id, operation, chat_payload(name, i))
        run_cpu_s = time.process_time() - cpu
        ran = counter.count - submitted
    finally:
        counter.close()
    return {
        "jobs": jobs,
        "submit_round_trips_per_job": round(submitted / jobs, 2),
        "run_round_trips_per_job": round(ran / jobs, 2),
        "run_cpu_ms_per_job": round(run_cpu_s * 1000 / jobs, 3),
        **_bucket_cost(bench, runner, name, jobs),
    }


def _bucket_cost(bench: Any, runner: Any, name: str, jobs: int) -> dict[str, Any]:
    """What the dashboard's per-minute buckets cost a job: the same jobs run with the
    worker's observer (the buckets) and with none, alternating rounds; and the buckets'
    own work per job (a job's end and its provider answer counted), timed alone."""
    from bench.harness import chat_payload
    from worker.monitoring.buckets import MinuteBuckets
    from worker.observer import NullObserver

    operation = "chat_completions_without_history"
    buckets = runner.observer
    cpu_s = {"with": 0.0, "without": 0.0}
    for round_number in range(4):
        # Alternating which goes first: a round after another runs on a fuller Redis.
        pair = [("without", NullObserver()), ("with", buckets)]
        for label, observer in pair if round_number % 2 else pair[::-1]:
            runner.observer = observer
            ids = [bench.client.submit(operation, chat_payload(name, i)) for i in range(jobs)]
            started = time.process_time()
            for i, job_id in enumerate(ids):
                runner.run(job_id, operation, chat_payload(name, i))
            cpu_s[label] += time.process_time() - started
    runner.observer = buckets
    alone = MinuteBuckets(bench.client.redis, bench.client.keys, flush_s=3600)
    record = bench.client.results.get(ids[-1])
    count = 20_000
    started = time.process_time()
    for _ in range(count):
        alone.provider_response(name, "chat/completions", 200, 0.001)
        alone.job_finished(record, 0.002)
    counting_s = time.process_time() - started
    started = time.process_time()
    alone.flush()  # what a second of a busy process sends, once
    flush_ms = (time.process_time() - started) * 1000
    with_ms, without_ms = (cpu_s[k] * 1000 / (4 * jobs) for k in ("with", "without"))
    return {
        "buckets_counting_ms_per_job": round(counting_s * 1000 / count, 4),
        "buckets_flush_ms": round(flush_ms, 3),
        "run_cpu_ms_per_job_with_buckets": round(with_ms, 3),
        "run_cpu_ms_per_job_without_buckets": round(without_ms, 3),
        "buckets_ms_per_job": round(with_ms - without_ms, 3),
    }


def _runner(settings: Any, redis: str) -> Any:
    try:
        from worker.engine.services import ProcessServices
    except ImportError:  # the layout before worker/engine (to compare with older trees)
        from worker.runtime import Runtime as ProcessServices  # type: ignore[no-redef]
    return ProcessServices.build(settings, redis).runner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    from bench.harness import Bench, provider_server, redis_url

    with redis_url() as redis, provider_server() as server:
        bench = Bench(redis, server)
        try:
            figures = measure(bench, args.jobs, args.log_level)
        finally:
            bench.close()
    print(json.dumps({"scenario": "round_trips", **figures}))


if __name__ == "__main__":
    main()
