"""What the dashboard's charts plot: a span's minutes (``monitoring.buckets``) gathered
into points of a fixed step.

An hour is 60 one-minute points, a day 144 ten-minute points, a week 168 one-hour
points. Points start on whole steps (UTC), so a refresh moves the charts one point at a
time instead of shifting every bar; the last point is the one still filling.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis

from worker.keys import Keys
from worker.monitoring.buckets import Minute, read_minutes


@dataclass(frozen=True)
class Span:
    """One choice of the range switch."""

    name: str
    label: str
    step_s: int
    points: int
    #: "per minute", "per 10 minutes": what one point holds, for the charts' titles.
    per: str
    #: How often the page asks for fresh charts (a week's read costs 10,080 minutes).
    refresh_s: int


SPANS = {
    "hour": Span("hour", "last hour", 60, 60, "per minute", 5),
    "day": Span("day", "last day", 600, 144, "per 10 minutes", 15),
    "week": Span("week", "last week", 3600, 168, "per hour", 60),
}
DEFAULT_SPAN = SPANS["hour"]


@dataclass
class Figures:
    """A span's points, and its totals of failures by type and tokens by configuration."""

    span: Span
    #: One per step: its jobs by status and its queue-wait and run-time histograms.
    points: list[Minute]
    failures: Counter[str] = field(default_factory=Counter)
    #: configuration → kind (prompt, completion, total, …) → tokens
    tokens: dict[str, Counter[str]] = field(default_factory=dict)

    def total(self, status: str) -> int:
        return sum(point.jobs[status] for point in self.points)


def first_start(span: Span, now_s: float) -> int:
    """The start of the span's first point: whole steps back from the one holding now."""
    return int(now_s // span.step_s * span.step_s) - (span.points - 1) * span.step_s


def gather(minutes: Sequence[Minute], span: Span, first: int) -> Figures:
    """Minutes (oldest first, from ``first`` on) added up into the span's points."""
    points = [Minute(first + i * span.step_s) for i in range(span.points)]
    total = Minute(first)
    for minute in minutes:
        index = (minute.start - first) // span.step_s
        if 0 <= index < span.points:
            points[index].add(minute)
            total.add(minute)
    return Figures(span, points, total.failures, total.tokens)


def read_figures(
    client: redis.Redis,
    keys: Keys,
    span: Span,
    configuration: str | None = None,
    now_s: float | None = None,
) -> Figures:
    """The span's figures up to now, every configuration's or one's."""
    now = time.time() if now_s is None else now_s
    first = first_start(span, now)
    return gather(read_minutes(client, keys, first, now, configuration), span, first)
