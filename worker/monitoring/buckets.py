"""Per-minute buckets of what workers did, in Redis: what the dashboard's charts and
``openai-worker stats`` read.

Each minute is one Redis hash (``Keys.stats_minute``), expiring after a week. A job's
end counts: the job by status and operation (and by configuration), its failure's type,
its queue wait and run time in a small fixed histogram, its tokens by configuration and
kind; every provider answer its status code by configuration. Counts add up in the
process and go to Redis once a second in one pipeline (``FLUSH_S``; and when the process
exits), so a job pays a few dictionary updates, not a round trip: a process killed
hard loses at most its last second of figures. Field names join their parts with
``SEP`` (a configuration's name may hold any printable character).
"""

from __future__ import annotations

import atexit
import math
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from worker.connections import reply_text
from worker.keys import Keys
from worker.monitoring.metrics import seconds_between

#: A week of minutes.
TTL_S = 7 * 24 * 3600
#: How often a process sends what it counted.
FLUSH_S = 1.0
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
    """Counts each job's end and each provider answer into its minute (a ``JobObserver``;
    the other events are not counted here) and sends the counts once a second."""

    def __init__(
        self, client: redis.Redis, keys: Keys, ttl_s: int = TTL_S, flush_s: float = FLUSH_S
    ) -> None:
        self.client, self.keys, self.ttl_s, self.flush_s = client, keys, ttl_s, flush_s
        #: (minute start, field) → count, not sent yet.
        self._pending: Counter[tuple[int, str]] = Counter()
        self._lock = threading.Lock()
        self._flusher: threading.Thread | None = None

    def job_started(self, operation: str, configuration: str | None) -> None:
        pass

    def job_retrying(self, operation: str, configuration: str | None, error_type: str) -> None:
        pass

    def provider_response(
        self, configuration: str, path: str, status_code: int, duration_s: float
    ) -> None:
        self._count([f"http{SEP}{configuration}{SEP}{status_code}"], [1])

    def job_finished(self, record: dict[str, Any], duration_s: float) -> None:
        names, counts = [], []
        status = record["status"]
        configuration = record.get("configuration") or ""
        names += [f"jobs{SEP}{status}", f"op{SEP}{record['operation']}{SEP}{status}"]
        names.append(f"cjobs{SEP}{configuration}{SEP}{status}")
        if status == "failed":
            error_type = (record.get("error") or {}).get("type", "unknown")
            names += [f"fail{SEP}{error_type}", f"cfail{SEP}{configuration}{SEP}{error_type}"]
        waited_s = seconds_between(record.get("enqueued_at"), record.get("started_at"))
        if waited_s is not None:
            at = bin_of(WAIT_BOUNDS_S, waited_s)
            names += [f"wait{SEP}{at}", f"cwait{SEP}{configuration}{SEP}{at}"]
        if record.get("started_at"):
            at = bin_of(RUN_BOUNDS_S, duration_s)
            names += [f"run{SEP}{at}", f"crun{SEP}{configuration}{SEP}{at}"]
        counts = [1] * len(names)
        usage = record.get("usage")
        if isinstance(usage, dict):
            for key, value in usage.items():
                if key.endswith("_tokens") and isinstance(value, int) and value > 0:
                    names.append(f"tokens{SEP}{configuration}{SEP}{key.removesuffix('_tokens')}")
                    counts.append(value)
        self._count(names, counts)

    def _count(self, names: list[str], counts: list[int]) -> None:
        minute = minute_of(time.time())
        with self._lock:
            for name, count in zip(names, counts, strict=True):
                self._pending[(minute, name)] += count
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_forever, name="minute-buckets", daemon=True
                )
                self._flusher.start()
                atexit.register(self.flush)

    def _flush_forever(self) -> None:
        while True:
            time.sleep(self.flush_s)
            self.flush()

    def flush(self) -> None:
        """Send what was counted, in one round trip (kept for the next try if Redis
        refuses: figures are never a reason to fail a job)."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
        if not pending:
            return
        pipe = self.client.pipeline(transaction=False)
        for (minute, name), count in pending.items():
            pipe.hincrby(self.keys.stats_minute(minute), name, count)
        for minute in {minute for minute, _ in pending}:
            pipe.expire(self.keys.stats_minute(minute), self.ttl_s)
        try:
            pipe.execute()
        except redis.RedisError:
            with self._lock:
                self._pending.update(pending)

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

    def add(self, other: Minute) -> None:
        """Add ``other``'s figures to these (minutes into a chart's point or a span)."""
        self.jobs.update(other.jobs)
        self.failures.update(other.failures)
        self.wait = [a + b for a, b in zip(self.wait, other.wait, strict=True)]
        self.run = [a + b for a, b in zip(self.run, other.run, strict=True)]
        for mine, theirs in (
            (self.operations, other.operations),
            (self.tokens, other.tokens),
            (self.statuses, other.statuses),
        ):
            for name, counts in theirs.items():
                mine.setdefault(name, Counter()).update(counts)


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


def summary(minutes: Sequence[Minute]) -> dict[str, Any]:
    """The figures of a span of minutes, as ``stats`` prints them."""
    total = Minute(minutes[0].start if minutes else 0)
    for minute in minutes:
        total.add(minute)
    return {
        "since": minutes[0].start if minutes else None,
        "minutes": len(minutes),
        "jobs": dict(total.jobs),
        "jobs_per_minute": round(sum(total.jobs.values()) / max(len(minutes), 1), 2),
        "failures": dict(total.failures),
        "queue_wait_s": _quantiles(total.wait, WAIT_BOUNDS_S),
        "run_s": _quantiles(total.run, RUN_BOUNDS_S),
        "tokens": {name: dict(counts) for name, counts in total.tokens.items()},
        "provider_statuses": {name: dict(counts) for name, counts in total.statuses.items()},
    }


def _quantiles(histogram: Sequence[int], bounds: Sequence[float]) -> dict[str, Any]:
    return {
        name: _bound(quantile_s(histogram, bounds, q)) for name, q in (("p50", 0.5), ("p95", 0.95))
    }


def _bound(value: float | None) -> float | str | None:
    """A quantile as JSON: a number, None, or words when it lies beyond the last bin."""
    if value is None or math.isfinite(value):
        return value
    return "beyond the last bin"
