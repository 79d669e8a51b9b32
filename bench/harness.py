"""What every scenario runs on: Redis, the provider stand-in, worker processes, a queue.

Each piece is a context manager that cleans up after itself: the embedded Redis is
stopped if this run started it, the run's namespace is deleted, worker processes and
the server are terminated.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import requests

from worker import embedded_redis
from worker.client import Client
from worker.configurations import Configuration, generate_secret_key
from worker.queue.launch import worker_command, worker_environment
from worker.results import FINAL_STATUSES
from worker.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION = "bench"


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    """``REDIS_URL`` if set, else an embedded Redis in a temporary directory."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    # A short path: the Unix socket path must fit in sockaddr_un.
    with tempfile.TemporaryDirectory(prefix="owb-", dir="/tmp") as directory:
        data_dir = Path(directory)
        url = embedded_redis.ensure_running(data_dir)
        try:
            yield url
        finally:
            embedded_redis.stop(data_dir)


@contextlib.contextmanager
def provider_server(processes: int = 1) -> Iterator[str]:
    """The asyncio stand-in in its own process(es); yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "server.py"), "--processes", str(processes)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def raise_open_files(needed: int) -> int:
    """Raise this process's soft limit of open files towards ``needed`` (as far as the
    hard limit allows), for the processes it starts from now on; returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def server_requests(base_url: str) -> int:
    """How many provider requests the stand-in has answered."""
    return int(requests.get(f"{base_url}/stats", timeout=5).json()["requests"])


class Bench:
    """One run's Redis namespace, secret key, client and worker environment."""

    def __init__(self, redis: str, server: str) -> None:
        self.redis = redis
        self.server = server
        self.namespace = f"owbench-{uuid.uuid4().hex[:12]}"
        # The environment `openai-worker run` gives the worker processes it starts.
        self.env = worker_environment(
            {
                **os.environ,
                "REDIS_URL": redis,
                "OPENAI_WORKER_NAMESPACE": self.namespace,
                "OPENAI_WORKER_SECRET_KEY": generate_secret_key(),
                # As users run it: every job's INFO event on (workers' stderr is discarded).
                "OPENAI_WORKER_LOG_LEVEL": "INFO",
                "OPENAI_WORKER_LOG_FORMAT": "json",
            }
        )
        self.client = Client(Settings.from_env(self.env))

    def configure(
        self,
        delay_ms: int,
        name: str = CONFIGURATION,
        *,
        dims: int = 0,
        requests_per_minute: int | None = None,
    ) -> str:
        """Save an OpenAI configuration answering after ``delay_ms``; return its name.

        ``requests_per_minute`` is the configuration's limit per rate-limit window (a
        minute unless the workers set ``OPENAI_WORKER_RATE_LIMIT_WINDOW_S``).
        """
        vectors = f"/x{dims}" if dims else ""
        self.client.configurations().save(
            Configuration(
                name=name,
                api_type="openai",
                endpoint=f"{self.server}/d{delay_ms}{vectors}/v1",
                api_key="sk-bench-not-a-real-key-0000",
                requests_per_minute=requests_per_minute,
            )
        )
        return name

    def close(self) -> None:
        """Delete every key of this run's namespace."""
        keys = list(self.client.redis.scan_iter(match=f"{self.namespace}:*", count=1000))
        for start in range(0, len(keys), 1000):
            self.client.redis.delete(*keys[start : start + 1000])
        self.client.close()


class Workers:
    """Worker processes as ``openai-worker run`` starts them: P processes × T threads."""

    def __init__(self, bench: Bench, processes: int, threads: int, **env: str) -> None:
        self.processes = processes
        self.threads = threads
        self.process = subprocess.Popen(
            worker_command(processes, threads),
            env={**bench.env, **env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def family(self) -> list[psutil.Process]:
        parent = psutil.Process(self.process.pid)
        return [parent, *parent.children(recursive=True)]

    def pids(self) -> list[int]:
        return [p.pid for p in self.family()]

    def cpu_s(self) -> float:
        """User + system CPU seconds of the parent and every worker process so far."""
        total = 0.0
        for process in self.family():
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def _status_kib(self, field: str) -> list[int]:
        """A ``/proc/PID/status`` figure (in KiB) of each worker process."""
        found = []
        for process in self.family():
            with contextlib.suppress(OSError, psutil.NoSuchProcess):
                for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                    if line.startswith(f"{field}:"):
                        found.append(int(line.split()[1]))
        return found

    def peak_rss_mb(self) -> float:
        """The largest peak resident set (VmHWM) among the worker processes."""
        return round(max(self._status_kib("VmHWM"), default=0) / 1024, 1)

    def peak_rss_sum_mb(self) -> float:
        """Every worker process's peak resident set (VmHWM), added up: an upper bound of
        their peak together, as the peaks need not coincide."""
        return round(sum(self._status_kib("VmHWM")) / 1024, 1)

    def rss_sum_mb(self) -> float:
        """The resident sets of the worker processes now, added up."""
        return round(sum(self._status_kib("VmRSS")) / 1024, 1)

    def virtual_sum_mb(self) -> float:
        """The address space of the worker processes now (thread stacks count here)."""
        return round(sum(self._status_kib("VmSize")) / 1024, 1)

    def pause(self) -> None:
        """Freeze the worker processes (SIGSTOP); heartbeats allow a few seconds."""
        for process in self.family():
            process.suspend()

    def resume(self) -> None:
        for process in self.family():
            process.resume()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for process in self.family():
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def workers(
    bench: Bench, processes: int, threads: int, *, warm_jobs: int | None = None, **env: str
) -> Iterator[Workers]:
    """Started workers, warmed up by ``warm_jobs`` zero-delay jobs (by default two per
    thread, so every thread has likely run one: imports, pools, caches)."""
    started = Workers(bench, processes, threads, **env)
    try:
        warm = processes * threads * 2 if warm_jobs is None else warm_jobs
        name = bench.configure(0, "bench-warmup")
        wait_all(bench.client, submit_chats(bench.client, warm, name), timeout_s=120)
        yield started
    finally:
        started.stop()


def chat_payload(configuration: str, index: int) -> dict[str, Any]:
    return {
        "configuration": configuration,
        "model": "gpt-4o-mini",
        "system_prompt": "You are a terse assistant.",
        "user_prompt": f"Say hello to user number {index}.",
    }


def submit_chats(client: Client, count: int, configuration: str) -> list[str]:
    return [
        client.submit("chat_completions_without_history", chat_payload(configuration, i))
        for i in range(count)
    ]


def wait_all(
    client: Client, job_ids: list[str], *, timeout_s: float, poll_s: float = 0.01
) -> list[dict[str, Any]]:
    """Every job's final record; polls the oldest unfinished few hundred at a time."""
    pending = list(job_ids)
    deadline = time.monotonic() + timeout_s
    job_key = client.keys.job
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} of {len(job_ids)} jobs unfinished")
        window = pending[:256]
        pipe = client.redis.pipeline(transaction=False)
        for job_id in window:
            pipe.hget(job_key(job_id), "status")
        done = {
            job_id
            for job_id, status in zip(window, pipe.execute(), strict=True)
            if status is not None and status.decode() in FINAL_STATUSES
        }
        pending = [job_id for job_id in pending if job_id not in done]
        if pending and not done:
            time.sleep(poll_s)
    return records(client, job_ids)


def records(client: Client, job_ids: list[str]) -> list[dict[str, Any]]:
    found = []
    for start in range(0, len(job_ids), 500):
        pipe = client.redis.pipeline(transaction=False)
        for job_id in job_ids[start : start + 500]:
            pipe.hget(client.keys.job(job_id), "record")
        found.extend(json.loads(raw) for raw in pipe.execute())
    return found


def timestamp(iso: str) -> float:
    """A record's ISO time as seconds since the epoch."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
