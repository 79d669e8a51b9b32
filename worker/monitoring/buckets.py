"""Per-minute buckets of what workers did, in Redis: what the dashboard's charts and
``openai-worker stats`` read.

Each minute is one Redis hash (``Keys.stats_minute``), expiring after a week. A job's
end adds to it in one pipelined round trip: the job by status and operation (and by
configuration), its failure's type, its queue wait and run time as counts in a small
fixed histogram, its tokens by configuration and kind, and the provider status codes
of the calls made since the last job end, by configuration. Field names join their
parts with ``SEP`` (a configuration's name may hold any printable character).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from worker.connections import reply_text
from worker.keys import Keys
from worker.monitoring.metrics import seconds_between

#: A week of minutes.
TTL_S = 7 * 24 * 3600
SEP = "\x1f"
#: Upper bounds (seconds) of the queue-wait and run-time histograms' bins; the last is
#: everything beyond.
WAIT_BOUNDS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, math.inf)
RUN_BOUNDS_S = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, math.inf)


def minute_of(epoch_s: float) -> int:
    """The start of the minute holding ``epoch_s``, in epoch seconds."""
    return int(epoch_s // 60 * 60)


def bin_of(bounds: Sequence[float], seconds: float) -> int:
    return next(i for i, bound in enumerate(bounds) if seconds <= bound)


class MinuteBuckets:
    """Adds each job's end to its minute's hash (a ``JobObserver``'s job and provider
    events; the others are not counted here)."""

    def __init__(self, client: redis.Redis, keys: Keys, ttl_s: int = TTL_S) -> None:
        self.client, self.keys, self.ttl_s = client, keys, ttl_s
        self._responses: Counter[str] = Counter()
        self._lock = threading.Lock()

    def job_started(self, operation: str, configuration: str | None) -> None:
        pass

    def job_retrying(self, operation: str, configuration: str | None, error_type: str) -> None:
        self._write(Counter())

    def provider_response(
        self, configuration: str, path: str, status_code: int, duration_s: float
    ) -> None:
        with self._lock:
            self._responses[f"http{SEP}{configuration}{SEP}{status_code}"] += 1

    def job_finished(self, record: dict[str, Any], duration_s: float) -> None:
        fields: Counter[str] = Counter()
        status = record["status"]
        configuration = record.get("configuration") or ""
        fields[f"jobs{SEP}{status}"] += 1
        fields[f"op{SEP}{record['operation']}{SEP}{status}"] += 1
        fields[f"cjobs{SEP}{configuration}{SEP}{status}"] += 1
        if status == "failed":
            error_type = (record.get("error") or {}).get("type", "unknown")
            fields[f"fail{SEP}{error_type}"] += 1
            fields[f"cfail{SEP}{configuration}{SEP}{error_type}"] += 1
        waited_s = seconds_between(record.get("enqueued_at"), record.get("started_at"))
        if waited_s is not None:
            fields[f"wait{SEP}{bin_of(WAIT_BOUNDS_S, waited_s)}"] += 1
            fields[f"cwait{SEP}{configuration}{SEP}{bin_of(WAIT_BOUNDS_S, waited_s)}"] += 1
        if record.get("started_at"):
            fields[f"run{SEP}{bin_of(RUN_BOUNDS_S, duration_s)}"] += 1
            fields[f"crun{SEP}{configuration}{SEP}{bin_of(RUN_BOUNDS_S, duration_s)}"] += 1
        usage = record.get("usage")
        if isinstance(usage, dict):
            for key, value in usage.items():
                if key.endswith("_tokens") and isinstance(value, int) and value > 0:
                    kind = key.removesuffix("_tokens")
                    fields[f"tokens{SEP}{configuration}{SEP}{kind}"] += value
        self._write(fields)

    def _write(self, fields: Counter[str]) -> None:
        """One round trip: this job's fields and the provider answers counted since."""
        with self._lock:
            fields.update(self._responses)
            self._responses.clear()
        if not fields:
            return
        key = self.keys.stats_minute(minute_of(time.time()))
        pipe = self.client.pipeline(transaction=False)
        for name, count in fields.items():
            pipe.hincrby(key, name, count)
        pipe.expire(key, self.ttl_s)
        with contextlib.suppress(redis.RedisError):  # figures: never a reason to fail a job
            pipe.execute()

    def pool_member_event(self, pool: str, member: str, event: str) -> None:
        pass

    def batch_ended(self, configuration: str, status: str, request_counts: dict[str, Any]) -> None:
        pass


# --- reading ----------------------------------------------------------------------------


@dataclass
class Minute:
    """One minute's figures (all zero when nothing happened)."""

    start: int
    jobs: Counter[str] = field(default_factory=Counter)
    operations: dict[str, Counter[str]] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    wait: list[int] = field(default_factory=lambda: [0] * len(WAIT_BOUNDS_S))
    run: list[int] = field(default_factory=lambda: [0] * len(RUN_BOUNDS_S))
    #: configuration → kind (prompt, completion, total, …) → tokens
    tokens: dict[str, Counter[str]] = field(default_factory=dict)
    #: configuration → HTTP status code (0: no answer) → calls
    statuses: dict[str, Counter[str]] = field(default_factory=dict)


def read_minutes(
    client: redis.Redis,
    keys: Keys,
    since_s: float,
    until_s: float | None = None,
    configuration: str | None = None,
) -> list[Minute]:
    """Every minute from ``since_s`` to ``until_s`` (now), oldest first, zero-filled; with
    ``configuration``, its jobs, failures, waits and run times only (and its tokens and
    statuses)."""
    until = minute_of(time.time() if until_s is None else until_s)
    starts = list(range(minute_of(since_s), until + 1, 60))
    pipe = client.pipeline(transaction=False)
    for start in starts:
        pipe.hgetall(keys.stats_minute(start))
    return [
        _minute(start, raw, configuration)
        for start, raw in zip(starts, pipe.execute(), strict=True)
    ]


def _minute(start: int, raw: dict[Any, Any], only: str | None) -> Minute:
    minute = Minute(start)
    for name, value in raw.items():
        kind, *parts = reply_text(name).split(SEP)
        count = int(value)
        if only is None:
            if kind == "jobs":
                minute.jobs[parts[0]] += count
            elif kind == "op":
                minute.operations.setdefault(parts[0], Counter())[parts[1]] += count
            elif kind == "fail":
                minute.failures[parts[0]] += count
            elif kind in ("wait", "run"):
                getattr(minute, kind)[int(parts[0])] += count
        elif parts and parts[0] == only:
            if kind == "cjobs":
                minute.jobs[parts[1]] += count
            elif kind == "cfail":
                minute.failures[parts[1]] += count
            elif kind in ("cwait", "crun"):
                getattr(minute, kind[1:])[int(parts[1])] += count
        if kind == "tokens" and (only is None or parts[0] == only):
            minute.tokens.setdefault(parts[0], Counter())[parts[1]] += count
        elif kind == "http" and (only is None or parts[0] == only):
            minute.statuses.setdefault(parts[0], Counter())[parts[1]] += count
    return minute


def quantile_s(histogram: Sequence[int], bounds: Sequence[float], q: float) -> float | None:
    """The upper bound of the bin holding the ``q`` quantile (None: no observations);
    ``inf`` when it lies beyond the last bound."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for count, bound in zip(histogram, bounds, strict=True):
        seen += count
        if seen >= rank and count:
            return bound
    return bounds[-1]


def added(histograms: Iterable[Sequence[int]]) -> list[int]:
    """Histograms bin by bin."""
    return [sum(bins) for bins in zip(*histograms, strict=True)]


def summary(minutes: Sequence[Minute]) -> dict[str, Any]:
    """The figures of a span of minutes, as ``stats`` prints them."""
    jobs: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    tokens: dict[str, Counter[str]] = {}
    statuses: dict[str, Counter[str]] = {}
    for minute in minutes:
        jobs.update(minute.jobs)
        failures.update(minute.failures)
        for name, counts in minute.tokens.items():
            tokens.setdefault(name, Counter()).update(counts)
        for name, counts in minute.statuses.items():
            statuses.setdefault(name, Counter()).update(counts)
    wait, run = added(m.wait for m in minutes), added(m.run for m in minutes)
    span_min = max(len(minutes), 1)
    return {
        "since": minutes[0].start if minutes else None,
        "minutes": len(minutes),
        "jobs": dict(jobs),
        "jobs_per_minute": round(sum(jobs.values()) / span_min, 2),
        "failures": dict(failures),
        "queue_wait_s": {
            "p50": _bound(quantile_s(wait, WAIT_BOUNDS_S, 0.5)),
            "p95": _bound(quantile_s(wait, WAIT_BOUNDS_S, 0.95)),
        },
        "run_s": {
            "p50": _bound(quantile_s(run, RUN_BOUNDS_S, 0.5)),
            "p95": _bound(quantile_s(run, RUN_BOUNDS_S, 0.95)),
        },
        "tokens": {name: dict(counts) for name, counts in tokens.items()},
        "provider_statuses": {name: dict(counts) for name, counts in statuses.items()},
    }


def _bound(value: float | None) -> float | str | None:
    """A quantile as JSON: ``"> 300"`` beyond the last finite bound."""
    if value is None or math.isfinite(value):
        return value
    return "beyond the last bin"
