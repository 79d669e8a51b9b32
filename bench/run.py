"""The benchmark: what the queue costs and how it scales, one JSON line per scenario.

Real Redis (``REDIS_URL``, or an embedded server started for the run and stopped
after), real ``dramatiq`` worker processes, and a local asyncio server answering in
the OpenAI wire format after a configurable delay (``bench/server.py``). Every key
lives under a namespace unique to the run and is deleted afterwards. Usage:

    .venv/bin/python bench/run.py [--quick] [--only SCENARIO ...] [--scale F]

``--quick`` is a small run for the smoke test; ``--scale`` multiplies the job counts.
Progress goes to stderr, figures to stdout. Ratios are named ``…_ratio``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCENARIOS = (
    "overhead",
    "logging",
    "concurrency",
    "latency",
    "embeddings",
    "scale_out",
    "round_trips",
    "in_flight",
    "burst",
    "batch_tier",
    "pool",
    "wait_latency",
)

#: Sizes of a full run (about eight minutes on 2 cores) and of ``--quick``.
FULL = {
    "overhead_jobs": 2000,
    "logging_jobs": 1000,
    "concurrency_jobs": 400,
    "concurrency_delay_ms": 250,
    "latency_jobs": 200,
    "embedding_chunks": 20_000,
    "embedding_dims": 1536,
    "scale_out_jobs": 1500,
    "round_trip_jobs": 1000,
    # Three waves of 2,048 ten-second calls: the bound is 204.8 jobs/s.
    "in_flight_jobs": 6144,
    "in_flight_threads": 1024,
    "in_flight_delay_ms": 10_000,
    # Two full provider batches of 50,000 requests.
    "batch_tier_jobs": 100_000,
    # Three members of 100 calls per 2 s window: 150 jobs/s in all, eight windows' worth.
    "pool_jobs": 2400,
    "pool_member_limit": 100,
    "pool_window_s": 2,
    # Client.wait one at a time; AsyncClient.wait a thousand at once.
    "wait_latency_jobs": 500,
    "wait_latency_concurrent": 1000,
}
QUICK = {
    "overhead_jobs": 200,
    "logging_jobs": 100,
    "concurrency_jobs": 64,
    "concurrency_delay_ms": 100,
    "latency_jobs": 20,
    "embedding_chunks": 3000,
    "embedding_dims": 256,
    "scale_out_jobs": 200,
    "round_trip_jobs": 50,
    "in_flight_jobs": 384,
    "in_flight_threads": 64,
    "in_flight_delay_ms": 1000,
    "batch_tier_jobs": 2000,
    "pool_jobs": 240,
    "pool_member_limit": 20,
    "pool_window_s": 1,
    "wait_latency_jobs": 50,
    "wait_latency_concurrent": 200,
}
PROCESSES, THREADS = 2, 8
CONCURRENCY_THREADS = 16
#: Open files the bench asks for (its children inherit the limit): 2,048 calls in flight
#: hold a connection each in the workers and in the provider stand-in, and Redis serves
#: a connection per busy worker thread.
OPEN_FILES = 16_384


def plan(sizes: dict[str, int]) -> dict[str, Callable[[Any], dict[str, Any]]]:
    from bench import batch_tier, pool, round_trips, scenarios, wait_latency

    return {
        "overhead": lambda b: scenarios.overhead(b, sizes["overhead_jobs"], PROCESSES, THREADS),
        "logging": lambda b: scenarios.logging_cost(b, sizes["logging_jobs"], PROCESSES, THREADS),
        "concurrency": lambda b: scenarios.concurrency(
            b,
            sizes["concurrency_jobs"],
            PROCESSES,
            CONCURRENCY_THREADS,
            sizes["concurrency_delay_ms"],
        ),
        "latency": lambda b: scenarios.latency(b, sizes["latency_jobs"], PROCESSES, THREADS, 50),
        "embeddings": lambda b: scenarios.embeddings(
            b, sizes["embedding_chunks"], sizes["embedding_dims"]
        ),
        "scale_out": lambda b: scenarios.scale_out(b, sizes["scale_out_jobs"], THREADS),
        "round_trips": lambda b: round_trips.measure(b, sizes["round_trip_jobs"]),
        "in_flight": lambda b: scenarios.in_flight(
            b,
            sizes["in_flight_jobs"],
            PROCESSES,
            sizes["in_flight_threads"],
            sizes["in_flight_delay_ms"],
        ),
        "burst": lambda b: scenarios.burst(
            b, PROCESSES, sizes["in_flight_threads"], sizes["in_flight_delay_ms"]
        ),
        "batch_tier": lambda b: batch_tier.measure(
            b, sizes["batch_tier_jobs"], sizes["overhead_jobs"]
        ),
        "pool": lambda b: pool.measure(
            b,
            sizes["pool_jobs"],
            sizes["pool_member_limit"],
            sizes["pool_window_s"],
            PROCESSES,
            THREADS,
        ),
        "wait_latency": lambda b: wait_latency.measure(
            b, sizes["wait_latency_jobs"], sizes["wait_latency_concurrent"]
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (under a minute)")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the job counts")
    args = parser.parse_args(argv)
    # Stopped from outside: still stop the workers, the server and Redis, delete the keys.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from bench.harness import Bench, provider_server, raise_open_files, redis_url

    sizes = dict(QUICK if args.quick else FULL)
    for key in sizes:
        if key.endswith(("_jobs", "_chunks")):
            sizes[key] = max(4, int(sizes[key] * args.scale))
    failures = 0
    # Before Redis and the provider stand-in start: thousands of connections in flight.
    raise_open_files(OPEN_FILES)
    with redis_url() as redis, provider_server() as server:
        bench = Bench(redis, server)
        try:
            steps = plan(sizes)
            for name in args.only:
                print(f"bench: {name} …", file=sys.stderr, flush=True)
                started = time.monotonic()
                try:
                    figures = steps[name](bench)
                except Exception as exc:  # report the scenario as failed, run the rest
                    failures += 1
                    figures = {"failed": f"{type(exc).__name__}: {exc}"}
                figures["bench_seconds"] = round(time.monotonic() - started, 1)
                print(json.dumps({"scenario": name, **figures}), flush=True)
        finally:
            bench.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
