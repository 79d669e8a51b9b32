"""The measurements; each returns the figures of one JSON line.

Worker throughput is end to end: from the first ``submit`` to the last record turning
``succeeded`` (the records' own ``finished_at``), unless a scenario says otherwise.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import json
import math
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from bench.harness import (
    Bench,
    percentile,
    server_requests,
    submit_chats,
    timestamp,
    wait_all,
    workers,
)

MODEL = "gpt-4o-mini"
SUBMITTERS = 4


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _succeeded(found: list[dict[str, Any]]) -> int:
    return sum(1 for record in found if record["status"] == "succeeded")


def _drive(
    bench: Bench,
    jobs: int,
    configuration: str,
    workers_: Any,
    keep: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Submit ``jobs`` chats into running workers and wait; throughput and CPU per job.

    The final records are added to ``keep`` when given.
    """
    cpu_before = workers_.cpu_s()
    started = time.time()
    # Several producer threads, so submitting is not what limits the throughput.
    with concurrent.futures.ThreadPoolExecutor(SUBMITTERS) as pool:
        parts = pool.map(
            lambda n: submit_chats(bench.client, n, configuration), _split(jobs, SUBMITTERS)
        )
        job_ids = [job_id for part in parts for job_id in part]
    submitted = time.time()
    found = wait_all(bench.client, job_ids, timeout_s=300)
    cpu_s = workers_.cpu_s() - cpu_before
    if keep is not None:
        keep.extend(found)
    elapsed = max(timestamp(r["finished_at"]) for r in found) - started
    return {
        "jobs": jobs,
        "succeeded": _succeeded(found),
        "seconds": round(elapsed, 3),
        "jobs_per_s": round(jobs / elapsed, 1),
        "submit_per_s": round(jobs / (submitted - started), 1),
        "worker_cpu_ms_per_job": round(cpu_s * 1000 / jobs, 3),
    }


def _wire_body(index: int) -> dict[str, Any]:
    """The body the worker sends for ``harness.chat_payload(…, index)``."""
    return {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": f"Say hello to user number {index}."},
        ],
    }


def _threaded(calls: int, threads: int, call: Any) -> dict[str, Any]:
    """``calls`` calls of ``call(i)`` from ``threads`` threads: rate and CPU per call."""
    counter = iter(range(calls))
    lock = threading.Lock()

    def loop() -> None:
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            call(index)

    cpu_before = time.process_time()
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(loop) for _ in range(threads)]:
            future.result()
    elapsed = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_before
    return {
        "per_s": round(calls / elapsed, 1),
        "cpu_ms_per_call": round(cpu_s * 1000 / calls, 3),
    }


def requests_loop(base_url: str, calls: int, threads: int) -> dict[str, Any]:
    """The same chat calls sent with ``requests``, one pooled session, no queue."""
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_maxsize=threads))
    url = f"{base_url}/d0/v1/chat/completions"
    headers = {"Authorization": "Bearer sk-bench"}

    def call(index: int) -> None:
        response = session.post(url, json=_wire_body(index), headers=headers, timeout=30)
        response.raise_for_status()
        response.json()

    _threaded(threads * 4, threads, call)  # open the connections first
    return _threaded(calls, threads, call)


def openai_loop(base_url: str, calls: int, threads: int) -> dict[str, Any] | str:
    """The same calls through the official ``openai`` client inline, or why not."""
    try:
        import openai
    except ImportError:
        return "the openai package is not installed (pip install openai)"
    client = openai.OpenAI(base_url=f"{base_url}/d0/v1", api_key="sk-bench", max_retries=0)

    def call(index: int) -> None:
        body = _wire_body(index)
        client.chat.completions.create(model=body["model"], messages=body["messages"])

    _threaded(threads * 4, threads, call)
    figures = _threaded(calls, threads, call)
    figures["version"] = openai.__version__
    return figures


#: Rounds of the side-by-side scenarios; their figures are the medians.
ROUNDS = 3


def _median(rounds: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in rounds), 3)


def overhead(bench: Bench, jobs: int, processes: int, threads: int) -> dict[str, Any]:
    """The queue against the bare HTTP loop and the openai client, zero provider delay.

    ``ROUNDS`` rounds, each the bare loop then the queue, so both see the same machine;
    every figure is the median over the rounds, ratios of the medians.
    """
    slots = processes * threads
    sdk = openai_loop(bench.server, jobs, slots)
    configuration = bench.configure(0)
    bare_rounds, queued_rounds = [], []
    with workers(bench, processes, threads) as running:
        for _ in range(ROUNDS):
            running.pause()
            bare_rounds.append(requests_loop(bench.server, jobs, slots))
            running.resume()
            queued_rounds.append(_drive(bench, jobs, configuration, running))
    per_s = _median(queued_rounds, "jobs_per_s")
    cpu_ms = _median(queued_rounds, "worker_cpu_ms_per_job")
    bare_per_s = _median(bare_rounds, "per_s")
    bare_cpu_ms = _median(bare_rounds, "cpu_ms_per_call")
    figures: dict[str, Any] = {
        "processes": processes,
        "threads": threads,
        "jobs": jobs * ROUNDS,
        "jobs_per_round": jobs,
        "rounds": ROUNDS,
        "succeeded": sum(r["succeeded"] for r in queued_rounds),
        "jobs_per_s": per_s,
        "submit_per_s": _median(queued_rounds, "submit_per_s"),
        "worker_cpu_ms_per_job": cpu_ms,
        "requests_per_s": bare_per_s,
        "requests_cpu_ms_per_call": bare_cpu_ms,
        "worker_vs_requests_ratio": round(per_s / bare_per_s, 3),
        "worker_vs_requests_cpu_ratio": round(cpu_ms / bare_cpu_ms, 3),
        "jobs_per_s_rounds": [r["jobs_per_s"] for r in queued_rounds],
        "requests_per_s_rounds": [r["per_s"] for r in bare_rounds],
    }
    if isinstance(sdk, str):
        figures["openai_skipped"] = sdk
    else:
        figures.update(
            openai_per_s=sdk["per_s"],
            openai_cpu_ms_per_call=sdk["cpu_ms_per_call"],
            openai_version=sdk["version"],
            worker_vs_openai_ratio=round(per_s / sdk["per_s"], 3),
        )
    return figures


def _drain(
    bench: Bench,
    jobs: int,
    configuration: str,
    workers_: Any,
    keep: list[dict[str, Any]] | None = None,
    *,
    poll_s: float = 0.01,
) -> dict[str, Any]:
    """Fill the queue while the workers are frozen, then time only the draining.

    The final records are added to ``keep`` when given. Timing comes from the records
    (first started, last finished), not from when the bench sees them: ``poll_s`` only
    sets how often it looks, which for long jobs should be seldom, as its reads share
    the cores with the workers.
    """
    workers_.pause()
    job_ids = submit_chats(bench.client, jobs, configuration)
    cpu_before = workers_.cpu_s()
    workers_.resume()
    found = wait_all(bench.client, job_ids, timeout_s=300, poll_s=poll_s)
    cpu_s = workers_.cpu_s() - cpu_before
    if keep is not None:
        keep.extend(found)
    # From the first job started, not from the resume: a consumer frozen in its idle
    # back-off (up to a second) would otherwise count as slowness.
    first = min(timestamp(r["started_at"]) for r in found)
    last = max(timestamp(r["finished_at"]) for r in found)
    return {
        "succeeded": _succeeded(found),
        "jobs_per_s": round(jobs / (last - first), 1),
        "cpu_ms_per_job": round(cpu_s * 1000 / jobs, 3),
    }


def logging_cost(bench: Bench, jobs: int, processes: int, threads: int) -> dict[str, Any]:
    """Draining a full queue with WARNING logging, then with every job's INFO events."""
    configuration = bench.configure(0)
    with workers(bench, processes, threads, OPENAI_WORKER_LOG_LEVEL="WARNING") as running:
        quiet = _drain(bench, jobs, configuration, running)
    with workers(bench, processes, threads, OPENAI_WORKER_LOG_LEVEL="INFO") as running:
        loud = _drain(bench, jobs, configuration, running)
    return {
        "jobs": jobs,
        "processes": processes,
        "threads": threads,
        "warning_jobs_per_s": quiet["jobs_per_s"],
        "warning_cpu_ms_per_job": quiet["cpu_ms_per_job"],
        "info_jobs_per_s": loud["jobs_per_s"],
        "info_cpu_ms_per_job": loud["cpu_ms_per_job"],
        "info_vs_warning_throughput_ratio": round(loud["jobs_per_s"] / quiet["jobs_per_s"], 3),
    }


def concurrency(
    bench: Bench, jobs: int, processes: int, threads: int, delay_ms: int
) -> dict[str, Any]:
    """Throughput with a slow provider against Little's law: slots / delay."""
    configuration = bench.configure(delay_ms)
    with workers(bench, processes, threads) as running:
        queued = _drive(bench, jobs, configuration, running)
    slots = processes * threads
    bound = slots / (delay_ms / 1000)
    # A batch of jobs runs in whole waves of `slots` jobs, so even a perfect queue
    # finishes `jobs` in ceil(jobs / slots) delays.
    waves_bound = jobs / (math.ceil(jobs / slots) * delay_ms / 1000)
    return {
        "processes": processes,
        "threads": threads,
        "delay_ms": delay_ms,
        **queued,
        "bound_jobs_per_s": round(bound, 1),
        "efficiency_ratio": round(queued["jobs_per_s"] / bound, 3),
        "whole_waves_efficiency_ratio": round(queued["jobs_per_s"] / waves_bound, 3),
    }


def latency(bench: Bench, jobs: int, processes: int, threads: int, gap_ms: int) -> dict[str, Any]:
    """One job at a time, ``gap_ms`` apart: time queued, time in the worker, and submit
    to final record as a producer sees it, told by ``Client.wait`` (the job's ended
    channel), not by a polling loop that would take CPU from the worker."""
    bare_ms = []
    session = requests.Session()
    url = f"{bench.server}/d0/v1/chat/completions"
    for index in range(max(jobs, 50)):
        started = time.perf_counter()
        session.post(url, json=_wire_body(index), timeout=30).json()
        bare_ms.append((time.perf_counter() - started) * 1000)
    configuration = bench.configure(0)
    queued_ms, worker_ms, end_to_end_ms = [], [], []
    with workers(bench, processes, threads):
        time.sleep(1.5)  # let every consumer fall back to its idle polling
        for index in range(jobs):
            started = time.perf_counter()
            [job_id] = submit_chats(bench.client, 1, configuration)
            record = bench.client.wait(job_id, 30)
            end_to_end_ms.append((time.perf_counter() - started) * 1000)
            if record is None or record["status"] != "succeeded":
                raise RuntimeError(f"job {job_id} did not succeed: {record}")
            begun = timestamp(record["started_at"])
            queued_ms.append((begun - timestamp(record["enqueued_at"])) * 1000)
            worker_ms.append((timestamp(record["finished_at"]) - begun) * 1000)
            time.sleep(gap_ms / 1000 * (0.5 + (index % 10) / 10))
    provider_ms = percentile(bare_ms, 0.5)
    return {
        "jobs": jobs,
        "processes": processes,
        "threads": threads,
        "gap_ms": gap_ms,
        "queued_p50_ms": round(percentile(queued_ms, 0.5), 1),
        "queued_p99_ms": round(percentile(queued_ms, 0.99), 1),
        "in_worker_p50_ms": round(percentile(worker_ms, 0.5), 1),
        "in_worker_p99_ms": round(percentile(worker_ms, 0.99), 1),
        "provider_call_p50_ms": round(provider_ms, 2),
        "beyond_provider_p50_ms": round(percentile(worker_ms, 0.5) - provider_ms, 1),
        "beyond_provider_p99_ms": round(percentile(worker_ms, 0.99) - provider_ms, 1),
        "end_to_end_p50_ms": round(percentile(end_to_end_ms, 0.5), 1),
        "end_to_end_p99_ms": round(percentile(end_to_end_ms, 0.99), 1),
    }


def embeddings(bench: Bench, chunks: int, dims: int) -> dict[str, Any]:
    """One ``embeddings_list_input`` job of many chunks, in a 1 × 1 worker."""
    name = bench.configure(0, f"bench-embeddings-{dims}", dims=dims)
    text = "A paragraph of a document, about two hundred characters long. " * 3
    payload = {
        "configuration": name,
        "model": "text-embedding-3-small",
        "chunks": [{"input": text, "key": f"doc-1#{i}"} for i in range(chunks)],
    }
    with workers(bench, 1, 1) as running:
        requests_before = server_requests(bench.server)
        started = time.time()
        job_id = bench.client.submit("embeddings_list_input", payload)
        [record] = wait_all(bench.client, [job_id], timeout_s=600, poll_s=0.05)
        elapsed = timestamp(record["finished_at"]) - started
        # Read as a producer reads it (a large output is stored in parts).
        record = bench.client.result(job_id) or record
        stored = len(json.dumps(record))
        figures: dict[str, Any] = {
            "chunks": chunks,
            "dimensions": dims,
            "status": record["status"],
            "http_requests": server_requests(bench.server) - requests_before,
            "seconds": round(elapsed, 2),
            "worker_peak_rss_mb": running.peak_rss_mb(),
            "result_mb": round(stored / 1e6, 1),
        }
    if record["status"] != "succeeded":
        figures["error"] = record["error"]
    else:
        figures["vectors"] = len(record["output"]["chunks"])
    return figures


def scale_out(bench: Bench, jobs: int, threads: int) -> dict[str, Any]:
    """Draining a full queue with 1 worker process, then with 2 (zero provider delay)."""
    configuration = bench.configure(0)
    figures: dict[str, Any] = {"jobs": jobs, "threads": threads}
    for processes in (1, 2):
        with workers(bench, processes, threads) as running:
            drained = _drain(bench, jobs, configuration, running)
        for key, value in drained.items():
            figures[f"p{processes}_{key}"] = value
    figures["two_vs_one_ratio"] = round(figures["p2_jobs_per_s"] / figures["p1_jobs_per_s"], 3)
    return figures


def _steady_in_flight(found: list[dict[str, Any]], points: int = 200) -> float:
    """The mean number of jobs running between the first job's end and the last job's
    start: the calls a worker keeps in flight once ramped up, before the queue runs dry.

    The drain's throughput also counts the ramp-up (fetching and starting thousands of
    calls) and the last wave running out; by Little's law, this figure divided by the
    delay is the throughput the workers sustain.
    """
    starts = sorted(timestamp(r["started_at"]) for r in found)
    ends = sorted(timestamp(r["finished_at"]) for r in found)
    first, last = ends[0], starts[-1]
    if last <= first:  # a single wave: no steady state to speak of
        return float(len(found))
    moments = [first + (last - first) * i / (points - 1) for i in range(points)]
    running = [bisect.bisect(starts, t) - bisect.bisect(ends, t) for t in moments]
    return statistics.fmean(running)


def _bare_in_flight(
    base_url: str, mode: str, concurrency: int, calls: int, delay_ms: int
) -> dict[str, Any] | str:
    """``bench/bare_in_flight.py`` in a process of its own, or why it could not run."""
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("bare_in_flight.py")),
            f"{base_url}/d{delay_ms}/v1/chat/completions",
            f"--mode={mode}",
            f"--concurrency={concurrency}",
            f"--calls={calls}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


#: File descriptors a worker process holds beyond one HTTP and one Redis connection per
#: thread (broker, heartbeat, wake-up subscription, logs, libraries), with room to spare.
FD_MARGIN = 256


def in_flight(
    bench: Bench,
    jobs: int,
    processes: int,
    threads: int,
    delay_ms: int,
    *,
    asyncio_baselines: tuple[str, ...] = ("aiohttp", "httpx2"),
    **env: str,
) -> dict[str, Any]:
    """Many slow calls at once: throughput against slots / delay, and the memory it takes.

    The workers run ``processes`` × ``threads`` against a provider answering after
    ``delay_ms``, draining a queue filled beforehand (submitting thousands of jobs takes
    the bench's producer seconds, which would count as the workers' ramp-up); timed
    from the first job started to the last finished, as the bare loops are timed from
    their first call. Side by side, in processes of their own, the same calls from as many
    threads with bare ``requests``, and from as many coroutines on one event loop with
    an async client (``aiohttp`` when installed, ``httpx2``). Worker memory is the resident set
    of all worker processes (Dramatiq's parent included): sampled every 0.5 s and added
    up (``rss_mb``), and each process's peak (VmHWM) added up (``peak_rss_sum_mb``, an
    upper bound).
    """
    slots = processes * threads
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    maxclients = int(bench.client.redis.config_get("maxclients")["maxclients"])
    # Each worker thread may hold a provider and a Redis connection; the server one per call.
    if limit < threads * 2 + FD_MARGIN or limit < slots + FD_MARGIN:
        raise RuntimeError(f"open files limit {limit} is too low for {slots} calls in flight")
    if maxclients < slots + FD_MARGIN:
        raise RuntimeError(f"Redis maxclients {maxclients} is too low for {slots} threads")
    figures: dict[str, Any] = {
        "processes": processes,
        "threads": threads,
        "slots": slots,
        "delay_ms": delay_ms,
        "open_files_limit": limit,
        "redis_maxclients": maxclients,
        **{f"env_{key}": value for key, value in env.items()},
    }
    configuration = bench.configure(delay_ms)
    with workers(bench, processes, threads, warm_jobs=slots, **env) as running:
        # What thousands of idle threads cost: CPU over a few quiet seconds.
        idle_before, idle_started = running.cpu_s(), time.monotonic()
        time.sleep(3)
        idle_cpu = (running.cpu_s() - idle_before) / (time.monotonic() - idle_started)
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.5):
                samples.append(running.rss_sum_mb())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        found: list[dict[str, Any]] = []
        try:
            # Ten-second calls: a look every quarter second, not every 10 ms (256 reads
            # each time, a tenth of a core taken from the workers).
            queued = _drain(bench, jobs, configuration, running, found, poll_s=0.25)
        finally:
            stop.set()
            sampler.join()
        figures.update(
            {
                "jobs": jobs,
                "succeeded": queued["succeeded"],
                "jobs_per_s": queued["jobs_per_s"],
                "worker_cpu_ms_per_job": queued["cpu_ms_per_job"],
                "idle_cpu_percent": round(idle_cpu * 100, 1),
                "rss_mb": max(samples, default=running.rss_sum_mb()),
                "peak_rss_sum_mb": running.peak_rss_sum_mb(),
                "virtual_mb": running.virtual_sum_mb(),
            }
        )
    bound = slots / (delay_ms / 1000)
    waves_bound = jobs / (math.ceil(jobs / slots) * delay_ms / 1000)
    figures["bound_jobs_per_s"] = round(bound, 1)
    figures["efficiency_ratio"] = round(queued["jobs_per_s"] / bound, 3)
    figures["whole_waves_efficiency_ratio"] = round(queued["jobs_per_s"] / waves_bound, 3)
    steady = _steady_in_flight(found)
    figures["steady_in_flight"] = round(steady, 1)
    figures["steady_jobs_per_s"] = round(steady / (delay_ms / 1000), 1)
    figures["steady_efficiency_ratio"] = round(steady / slots, 3)
    figures["rss_kib_per_slot"] = round(figures["rss_mb"] * 1024 / slots, 1)
    bare = _bare_in_flight(bench.server, "threads", slots, jobs, delay_ms)
    if isinstance(bare, str):
        figures["requests_failed"] = bare
    else:
        figures.update(
            requests_per_s=bare["per_s"],
            requests_efficiency_ratio=round(bare["per_s"] / bound, 3),
            requests_rss_mb=bare["peak_rss_mb"],
            requests_cpu_ms_per_call=bare["cpu_ms_per_call"],
            worker_vs_requests_ratio=round(queued["jobs_per_s"] / bare["per_s"], 3),
            worker_vs_requests_rss_ratio=round(figures["rss_mb"] / bare["peak_rss_mb"], 3),
        )
    for mode in asyncio_baselines:
        found = _bare_in_flight(bench.server, mode, slots, jobs, delay_ms)
        if isinstance(found, str):
            figures[f"{mode}_skipped"] = found
            continue
        figures[f"{mode}_per_s"] = found["per_s"]
        figures[f"{mode}_rss_mb"] = found["peak_rss_mb"]
        figures[f"{mode}_cpu_ms_per_call"] = found["cpu_ms_per_call"]
    return figures


def _burst_once(
    bench: Bench, processes: int, threads: int, configuration: str, **env: str
) -> list[dict[str, Any]]:
    """As many jobs as ``processes`` x ``threads``, submitted while the workers are
    frozen, then drained: their final records."""
    slots = processes * threads
    found: list[dict[str, Any]] = []
    with workers(bench, processes, threads, warm_jobs=slots, **env) as running:
        time.sleep(3)  # every consumer idle
        _drain(bench, slots, configuration, running, found, poll_s=0.25)
    return found


def burst(bench: Bench, processes: int, threads: int, delay_ms: int) -> dict[str, Any]:
    """A burst of exactly as many jobs as the workers have threads, into idle workers:
    every job can start at once, so the burst can end one call's length after it began.

    Reports how long the last job waited to start and the burst's length against one
    call (``efficiency_ratio``), then the same with Dramatiq's own prefetch (two
    messages a thread), where the first process to fetch may take more jobs than it
    has threads and leave the rest waiting a whole call behind its busy threads while
    another process's threads stand idle. Bare ``requests`` threads have no queue to
    share (they start every call at once by construction), so they are not run here.
    """
    configuration = bench.configure(delay_ms)
    figures: dict[str, Any] = {
        "processes": processes,
        "threads": threads,
        "jobs": processes * threads,
        "delay_ms": delay_ms,
    }
    runs = {
        "": {},
        "dramatiq_prefetch_": {"dramatiq_queue_prefetch": str(2 * threads)},
    }
    for prefix, env in runs.items():
        found = _burst_once(bench, processes, threads, configuration, **env)
        starts = sorted(timestamp(record["started_at"]) for record in found)
        length = max(timestamp(record["finished_at"]) for record in found) - starts[0]
        figures[f"{prefix}succeeded"] = _succeeded(found)
        figures[f"{prefix}all_started_s"] = round(starts[-1] - starts[0], 2)
        figures[f"{prefix}burst_s"] = round(length, 2)
        figures[f"{prefix}efficiency_ratio"] = round(delay_ms / 1000 / length, 3)
    return figures
