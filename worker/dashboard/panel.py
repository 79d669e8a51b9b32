"""The charts' container: what the overview and a configuration's page show first, and
what ``/fragments/charts`` sends the refresh script to put in its place.

The container names its own fragment URL and refresh interval (``data-fragment``,
``data-refresh-s``) and when it was drawn (``data-rendered-at``), so the script needs
no settings of its own.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from worker.dashboard.charts import Axis, Series, bars, quantile_lines, stacked_bars
from worker.dashboard.figures import SPANS, Figures, Span
from worker.dashboard.svg import BLUE, DARK, DASHED_LINE, HATCHED, SOLID_LINE
from worker.monitoring.buckets import RUN_BOUNDS_S, WAIT_BOUNDS_S, quantile_s

JOBS = [Series("succeeded", "succeeded", DARK), Series("failed", "failed", HATCHED)]
QUANTILES = [Series("p50", "p50", SOLID_LINE), Series("p95", "p95", DASHED_LINE)]
#: Seconds between the time labels under a chart, per span.
TICK_S = {"hour": 600, "day": 7200, "week": 86400}


def configuration_path(name: str) -> str:
    return f"/configurations/{quote(name, safe='')}"


def fragment_url(span: Span, configuration: str | None = None) -> str:
    query = {"range": span.name, **({"configuration": configuration} if configuration else {})}
    return f"/fragments/charts?{urlencode(query, quote_via=quote)}"


def range_switch(current: Span, path: str) -> str:
    """Links to the same page over each span; the one shown is marked."""
    links = "".join(
        f'<a href="{escape(path)}?range={name}"'
        + (' aria-current="page" class=current' if span == current else "")
        + f">{escape(span.label)}</a>"
        for name, span in SPANS.items()
    )
    return f'<nav class=ranges aria-label="time range">{links}</nav>'


def axis(figures: Figures) -> Axis:
    span = figures.span
    starts = [point.start for point in figures.points]
    short = "%a %d %b" if span.name == "week" else "%H:%M"
    return Axis(
        starts,
        [_utc(start, "%Y-%m-%d %H:%M") for start in starts],
        [
            (i, _utc(start, short))
            for i, start in enumerate(starts)
            if start % TICK_S[span.name] == 0
        ],
    )


def _utc(epoch_s: int, pattern: str) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime(pattern)


def queue_depth(health: dict[str, Any]) -> str:
    """Jobs waiting now, over every queue the health report names."""
    queues = health.get("queues", {}).values()
    ready = sum(int(q.get("ready", 0)) for q in queues)
    delayed = sum(int(q.get("delayed", 0)) for q in queues)
    dead = sum(int(q.get("dead_lettered", 0)) for q in queues)
    return (
        f'<p id=queue-depth class=tile data-ready="{ready}" data-delayed="{delayed}" '
        f'data-dead-lettered="{dead}">Queue depth now: <strong>{ready + delayed:,}</strong> '
        f"waiting ({ready:,} ready, {delayed:,} delayed) · {dead:,} dead-lettered</p>"
    )


def charts_panel(
    figures: Figures,
    *,
    configuration: str | None = None,
    health: dict[str, Any] | None = None,
    now_s: float,
) -> str:
    """Every chart of a span, every configuration's (with the queue depth) or one's."""
    span, points = figures.span, figures.points
    ax = axis(figures)
    jobs = [{s.key: p.jobs[s.key] for s in JOBS} for p in points]
    counts = [sum(p.wait) for p in points]
    wait = [
        {
            "p50": quantile_s(p.wait, WAIT_BOUNDS_S, 0.5),
            "p95": quantile_s(p.wait, WAIT_BOUNDS_S, 0.95),
        }
        for p in points
    ]
    run = [
        {"p50": quantile_s(p.run, RUN_BOUNDS_S, 0.5), "p95": quantile_s(p.run, RUN_BOUNDS_S, 0.95)}
        for p in points
    ]
    failures = bars(
        "failures",
        f"Failures by type ({span.label})",
        list(figures.failures.items()),
        HATCHED,
        "failed jobs",
    )
    charts = [
        stacked_bars(
            "jobs", f"Jobs {span.per}, succeeded and failed ({span.label})", ax, JOBS, jobs
        ),
        quantile_lines(
            "wait",
            f"Queue wait p50 / p95 {span.per} ({span.label})",
            ax,
            WAIT_BOUNDS_S,
            QUANTILES,
            wait,
            counts,
        ),
        quantile_lines(
            "run",
            f"Run time p50 / p95 {span.per} ({span.label})",
            ax,
            RUN_BOUNDS_S,
            QUANTILES,
            run,
            [sum(p.run) for p in points],
        ),
        failures,
        tokens_chart(figures, configuration),
    ]
    succeeded, failed = figures.total("succeeded"), figures.total("failed")
    updated = _utc(int(now_s), "%H:%M:%S")
    summary = (
        f'<p class=totals data-succeeded="{succeeded}" data-failed="{failed}">'
        f"{span.label.capitalize()}: <strong>{succeeded + failed:,}</strong> jobs, "
        f"{succeeded:,} succeeded, {failed:,} failed · updated {updated} UTC</p>"
    )
    depth = queue_depth(health) if health is not None else ""
    return (
        f'<div id=charts data-fragment="{escape(fragment_url(span, configuration))}" '
        f'data-refresh-s="{span.refresh_s}" data-rendered-at="{now_s:.3f}">'
        f"{depth}{summary}<div class=charts>{''.join(charts)}</div></div>"
    )


def tokens_chart(figures: Figures, configuration: str | None) -> str:
    """Tokens per configuration (each one's ``total``), or one configuration's by kind."""
    label = figures.span.label
    if configuration is not None:
        kinds = figures.tokens.get(configuration, Counter())
        return bars("tokens", f"Tokens by kind ({label})", list(kinds.items()), BLUE, "tokens")
    totals = {
        name: kinds.get("total") or sum(kinds.values()) for name, kinds in figures.tokens.items()
    }
    details = {
        name: ", ".join(f"{kind} {count:,}" for kind, count in sorted(kinds.items()))
        for name, kinds in figures.tokens.items()
    }
    links = {name: configuration_path(name) for name in totals}
    return bars(
        "tokens",
        f"Tokens per configuration ({label})",
        list(totals.items()),
        BLUE,
        "tokens",
        links=links,
        details=details,
    )
