"""A pool at its members' limits: three rate-limited configurations behind one pool name,
against one configuration whose limit is their sum.

Three member configurations of the provider stand-in (``delay_ms``, 0 by default), each
limited to ``member_limit`` requests per rate-limit window, form a ``weighted`` pool of
equal weights; the workers (``processes`` × ``threads``) run with
``OPENAI_WORKER_RATE_LIMIT_WINDOW_S=window_s`` so a window is seconds, not a minute.
The limits, not the workers, are meant to be the bound. Side by side, in the same
workers, the same number of jobs go through a single configuration limited to the sum.

Each phase fills the queue while the workers are frozen, then lets them drain it. The
sliding-window limiter admits a whole window's worth at once at the start, so throughput
is timed over the steady part only: from the moment the first window's burst is done
(the ``sum of limits``-th job finished) to the last job finished, counting the jobs
finished in between. The job count is rounded to a whole number of windows' worth, so
under a perfect limiter the later windows repeat the first one's pattern shifted by a
window, and the figure reads the limit exactly; the limiter counts by tenths of a
second of Redis' clock, so a ratio may read a hair over 1. ``…_whole_run_jobs_per_s``
(from the first job started to the last finished, burst included) is reported too.
"""

from __future__ import annotations

import collections
import time
from typing import Any

from bench.harness import Bench, server_requests, submit_chats, timestamp, wait_all, workers
from worker.configurations.pool import Member, Pool

POOL = "bench-pool"
MEMBERS = ("bench-pool-a", "bench-pool-b", "bench-pool-c")
SINGLE = "bench-pool-single"


def measure(
    bench: Bench,
    jobs: int,
    member_limit: int,
    window_s: int,
    processes: int,
    threads: int,
    delay_ms: int = 0,
) -> dict[str, Any]:
    """The pool's steady throughput against the sum of its members' limits, and against
    a single configuration limited to that sum."""
    for name in MEMBERS:
        bench.configure(delay_ms, name, requests_per_minute=member_limit)
    bench.client.configurations().save_pool(Pool(POOL, tuple(Member(n) for n in MEMBERS)))
    limit_sum = member_limit * len(MEMBERS)
    bench.configure(delay_ms, SINGLE, requests_per_minute=limit_sum)
    # Whole windows' worth, at least two: the first is the burst, the rest are timed.
    jobs = max(2, round(jobs / limit_sum)) * limit_sum
    window = str(window_s)
    with workers(bench, processes, threads, OPENAI_WORKER_RATE_LIMIT_WINDOW_S=window) as running:
        pool = _phase(bench, jobs, POOL, running, limit_sum)
        single = _phase(bench, jobs, SINGLE, running, limit_sum)
    limits_per_s = limit_sum / window_s
    served = collections.Counter(
        record["served_by"][0] for record in pool.pop("found") if record.get("served_by")
    )
    single.pop("found")
    return {
        "processes": processes,
        "threads": threads,
        "delay_ms": delay_ms,
        "window_s": window_s,
        "members": len(MEMBERS),
        "member_limit_per_window": member_limit,
        "jobs": jobs,
        "sum_of_member_limits_per_s": round(limits_per_s, 1),
        **{f"pool_{key}": value for key, value in pool.items()},
        "pool_vs_limits_ratio": round(pool["jobs_per_s"] / limits_per_s, 3),
        "pool_served_by": {name: served.get(name, 0) for name in MEMBERS},
        "pool_served_by_others": sum(n for name, n in served.items() if name not in MEMBERS),
        **{f"single_{key}": value for key, value in single.items()},
        "single_vs_limit_ratio": round(single["jobs_per_s"] / limits_per_s, 3),
        "pool_vs_single_ratio": round(pool["jobs_per_s"] / single["jobs_per_s"], 3),
    }


def _phase(
    bench: Bench, jobs: int, configuration: str, workers_: Any, burst: int
) -> dict[str, Any]:
    """Drain ``jobs`` chats queued while the workers were frozen; steady throughput after
    the first ``burst`` jobs (see the module's docstring). The records are in ``found``."""
    workers_.pause()
    job_ids = submit_chats(bench.client, jobs, configuration)
    requests_before = server_requests(bench.server)
    cpu_before = workers_.cpu_s()
    workers_.resume()
    found = wait_all(bench.client, job_ids, timeout_s=300 + jobs / 10)
    cpu_s = workers_.cpu_s() - cpu_before
    # Quiet a moment, so every answer the server sent is counted (none should be late).
    time.sleep(0.2)
    http_requests = server_requests(bench.server) - requests_before
    finished = sorted(timestamp(r["finished_at"]) for r in found)
    first_started = min(timestamp(r["started_at"]) for r in found)
    steady_s = finished[-1] - finished[burst - 1]
    return {
        "succeeded": sum(1 for r in found if r["status"] == "succeeded"),
        "jobs_per_s": round((jobs - burst) / steady_s, 1),
        "steady_seconds": round(steady_s, 2),
        "whole_run_jobs_per_s": round(jobs / (finished[-1] - first_started), 1),
        "http_requests": http_requests,
        # Jobs that gave their thread up to wait for capacity in the queue, at least once.
        "requeued_jobs": sum(1 for r in found if r.get("waited_s")),
        "worker_cpu_ms_per_job": round(cpu_s * 1000 / jobs, 3),
        "found": found,
    }
