"""``stats``: what the workers did lately, from the per-minute buckets the dashboard
charts (``worker.monitoring.buckets``), as a short table or, with ``--json``, JSON."""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any

from worker.cli.common import EXIT_INVALID, EXIT_OK, CommandError, connect, emit, load_settings
from worker.monitoring.buckets import TTL_S, read_minutes, summary

_SPAN = re.compile(r"^(\d+)([mhd])$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400}


def span_s(text: str) -> int:
    """``30m``, ``1h``, ``7d`` as seconds (at most the buckets' week)."""
    found = _SPAN.match(text.strip())
    if not found or int(found.group(1)) == 0:
        raise CommandError(
            f"--since takes a span such as 30m, 1h or 7d, got {text!r}",
            code=EXIT_INVALID,
            error_type="validation",
        )
    return min(int(found.group(1)) * _UNIT_S[found.group(2)], TTL_S)


def cmd_stats(args: argparse.Namespace) -> int:
    since = span_s(args.since)
    client = connect(load_settings())
    try:
        minutes = read_minutes(
            client.redis, client.keys, time.time() - since + 60, configuration=args.configuration
        )
    finally:
        client.close()
    figures = {"span": args.since, "configuration": args.configuration, **summary(minutes)}
    if args.json:
        emit(figures)
    else:
        sys.stdout.write(render(figures))
    return EXIT_OK


def render(figures: dict[str, Any]) -> str:
    """The figures as a few aligned lines for a terminal."""
    jobs = figures["jobs"]
    span = f"last {figures['span']}"
    if figures["configuration"]:
        span += f", configuration {figures['configuration']}"
    rows = [
        ("span", span),
        ("jobs", f"{sum(jobs.values())} ({_counts(jobs)})"),
        ("jobs per minute", str(figures["jobs_per_minute"])),
        ("failures", _counts(figures["failures"])),
        ("queue wait p50 / p95", _pair(figures["queue_wait_s"])),
        ("run time p50 / p95", _pair(figures["run_s"])),
    ]
    for name, kinds in sorted(figures["tokens"].items()):
        rows.append((f"tokens {name}", _counts(kinds)))
    for name, codes in sorted(figures["provider_statuses"].items()):
        rows.append((f"HTTP statuses {name}", _counts(codes)))
    width = max(len(label) for label, _ in rows)
    return "".join(f"{label.ljust(width)}  {value}\n" for label, value in rows)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "none"


def _pair(quantiles: dict[str, Any]) -> str:
    return " / ".join(_quantile(quantiles[name]) for name in ("p50", "p95"))


def _quantile(value: Any) -> str:
    if value is None:
        return "–"
    return f"≤ {value:g} s" if isinstance(value, float | int) else str(value)


def register(sub: Any) -> None:
    stats = sub.add_parser(
        "stats", help="jobs, failures, waits, tokens of the last hour (or --since)"
    )
    stats.add_argument("--since", default="1h", help="how far back: 30m, 1h, 7d (at most 7d)")
    stats.add_argument("--configuration", help="one configuration's figures only")
    stats.add_argument("--json", action="store_true", help="JSON instead of a table")
    stats.set_defaults(func=cmd_stats)
