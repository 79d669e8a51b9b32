"""Where one job's CPU goes: submit and run chat jobs in this process under cProfile.

The same code path as the worker (``Client.submit``, then the process runtime's
``JobRunner.run`` for each message) against real Redis and the bench server, without
Dramatiq's consumer threads, so the profile shows our code. Usage:

    .venv/bin/python bench/profile_job.py [--jobs N] [--sort tottime|cumulative] [--top N]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def profiled(label: str, jobs: int, work: Callable[[], None], sort: str, top: int) -> None:
    """Run ``work`` under cProfile; print CPU and wall per job, then the top functions."""
    profile = cProfile.Profile()
    started, cpu = time.perf_counter(), time.process_time()
    profile.enable()
    work()
    profile.disable()
    cpu_ms = (time.process_time() - cpu) * 1000 / jobs
    wall_ms = (time.perf_counter() - started) * 1000 / jobs
    print(f"== {label}: {cpu_ms:.3f} ms CPU, {wall_ms:.3f} ms wall per job (profiled)")
    pstats.Stats(profile).sort_stats(sort).print_stats(top)
    if os.environ.get("PROFILE_DUMP"):
        profile.dump_stats(f"{os.environ['PROFILE_DUMP']}.{label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--log-level", default="INFO", help="the workers' level (INFO as run)")
    args = parser.parse_args()

    from bench.harness import Bench, chat_payload, provider_server, redis_url

    operation = "chat_completions_without_history"
    with redis_url() as redis, provider_server() as server:
        bench = Bench(redis, server)
        os.environ.update(bench.env)
        from worker.engine.services import ProcessServices
        from worker.logs import configure_logging
        from worker.settings import Settings

        configure_logging("json", args.log_level)
        runner = ProcessServices.build(Settings.from_env(), redis).runner
        name = bench.configure(0)
        job_ids: list[str] = []

        def submit() -> None:
            for i in range(args.jobs):
                job_ids.append(bench.client.submit(operation, chat_payload(name, i)))

        def run() -> None:
            for i, job_id in enumerate(job_ids):
                runner.run(job_id, operation, chat_payload(name, i))

        try:
            profiled("submit", args.jobs, submit, args.sort, args.top)
            profiled("run", args.jobs, run, args.sort, args.top)
        finally:
            bench.close()


if __name__ == "__main__":
    main()
