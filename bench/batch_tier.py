"""The batch tier at scale: jobs sealed into provider batches, and their records written
from the provider's output files.

Batch-tier chat jobs are submitted into running workers (2 processes × 8 threads) with a
long window, so groups seal when full (50,000 requests, the providers' cap); the local
Batch API server of ``contracts/`` completes each batch after a few polls. Figures:
how fast jobs are submitted and admitted into groups, the time from the last job
admitted to every batch created (write, upload, create), the time from a batch's end to
every one of its jobs' records written (reading the output file into the ledgers, then
each job finished from its answer), and the workers' memory (each process's peak,
added up). Side by side, in the same run, the same workers finish standard-tier jobs
against a 0 ms provider: ``finish_vs_standard_ratio`` compares the two rates.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import Bench, submit_chats, timestamp, wait_all, workers

sys.path.append(str(Path(__file__).resolve().parent.parent / "contracts"))

MODEL = "gpt-4o-mini"
SUBMITTERS = 4
ENV = {
    "OPENAI_WORKER_BATCH_WINDOW_S": "3600",
    "OPENAI_WORKER_BATCH_POLL_MIN_S": "0.5",
    "OPENAI_WORKER_BATCH_POLL_MAX_S": "1",
}


def _submit(bench: Bench, jobs: int, configuration: str) -> list[str]:
    import concurrent.futures

    def part(start: int, stop: int) -> list[str]:
        return [
            bench.client.submit(
                "chat_completions_without_history",
                {"configuration": configuration, "model": MODEL, "user_prompt": f"Q{i}"},
                tier="batch",
            )
            for i in range(start, stop)
        ]

    bounds = [(jobs * k // SUBMITTERS, jobs * (k + 1) // SUBMITTERS) for k in range(SUBMITTERS)]
    with concurrent.futures.ThreadPoolExecutor(SUBMITTERS) as pool:
        parts = list(pool.map(lambda b: part(*b), bounds))
    return [job_id for ids in parts for job_id in ids]


def measure(bench: Bench, jobs: int, standard_jobs: int) -> dict[str, Any]:
    from batch_api_server import serve_batch_api

    with serve_batch_api(api_key="sk-bench-not-a-real-key-0000", polls_per_step=2) as api:
        bench.client.configurations().save(_configuration(api.openai_base_url))
        # Two full groups: 50,000 requests each at full size (the providers' cap).
        full = {"OPENAI_WORKER_BATCH_MAX_REQUESTS": str(min(50_000, (jobs + 1) // 2))}
        with workers(bench, 2, 8, **ENV, **full) as running:
            standard = bench.configure(0)
            started = time.time()
            done = wait_all(
                bench.client, submit_chats(bench.client, standard_jobs, standard), timeout_s=600
            )
            standard_per_s = standard_jobs / (
                max(timestamp(r["finished_at"]) for r in done) - started
            )
            started = time.time()
            job_ids = _submit(bench, jobs, "bench-batch")
            submitted = time.time()
            found = wait_all(bench.client, job_ids, timeout_s=7200, poll_s=0.5)
            peak_rss = running.peak_rss_sum_mb()
        groups = bench.client.batch_groups()
    succeeded = sum(1 for r in found if r["status"] == "succeeded")
    ended = min(float(g["ended_at"]) for g in _raw_groups(bench))
    last_record = max(timestamp(r["finished_at"]) for r in found)
    created = max(float(g["submitted_at"]) for g in _raw_groups(bench))
    records_s = last_record - ended
    return {
        "jobs": jobs,
        "succeeded": succeeded,
        "groups": len(groups),
        "files_uploaded": api.files_uploaded,
        "batches_created": api.batches_created,
        "submit_per_s": round(jobs / (submitted - started), 1),
        "sealed_to_created_s": round(created - submitted, 1),
        "records_written_s": round(records_s, 1),
        "records_per_s": round(jobs / records_s, 1),
        "standard_jobs_per_s": round(standard_per_s, 1),
        "finish_vs_standard_ratio": round(jobs / records_s / standard_per_s, 3),
        "peak_rss_sum_mb": round(peak_rss, 1),
    }


def _raw_groups(bench: Bench) -> list[dict[str, str]]:
    from worker.batches import BatchGroups

    groups = BatchGroups(bench.client.redis, bench.client.keys, 3600)
    return [g for g in groups.recent(100) if g.get("configuration") == "bench-batch"]


def _configuration(base_url: str) -> Any:
    from worker.configurations import Configuration

    return Configuration(
        name="bench-batch",
        api_type="openai",
        endpoint=base_url,
        api_key="sk-bench-not-a-real-key-0000",
    )
