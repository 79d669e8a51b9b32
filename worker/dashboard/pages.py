"""The dashboard's HTML: plain server-rendered pages, every value escaped."""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import quote

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2330; background: #f6f7f9; }
h1 { font-size: 1.4rem; margin: 0 0 1rem; } h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
table { border-collapse: collapse; background: #fff; width: 100%; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e3e6eb; }
td { overflow-wrap: anywhere; }
th { background: #e9edf3; } a { color: #1f5fbf; } pre { background: #fff; padding: 1rem; }
.status { font-weight: 600; padding: .1rem .5rem; border-radius: .6rem; }
.succeeded, .ready { background: #d4f3dc; color: #11652d; }
.failed, .out { background: #fbd9d7; color: #9b1c14; }
.queued, .running, .retrying, .waiting, .cooling { background: #fdf0c8; color: #7a5a00; }
.healthy { color: #11652d; } .unhealthy { color: #9b1c14; }
button { background: #1f5fbf; color: #fff; border: 0; padding: .35rem .9rem; border-radius: .3rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 1rem; }
figure.chart { background: #fff; margin: 0; padding: .6rem .8rem; border: 1px solid #e3e6eb; }
figure.chart figcaption { font-weight: 600; margin-bottom: .3rem; }
.chart-svg { display: block; width: 100%; height: auto; }
details.numbers summary { cursor: pointer; color: #1f5fbf; margin-top: .3rem; }
table.numbers { font-size: 12px; } nav.ranges { margin: 0 0 .8rem; }
nav.ranges a { padding: .2rem .6rem; margin-right: .3rem; border-radius: .3rem; }
nav.ranges a.current { background: #1f5fbf; color: #fff; text-decoration: none; }
.tile { display: inline-block; background: #fff; border: 1px solid #e3e6eb; padding: .4rem .8rem; }
"""
#: The one script: fetches the charts' container again every few seconds.
SCRIPT = '<script src="/static/refresh.js" defer></script>'


def page(title: str, body: str, *, refreshed: bool = False) -> str:
    """A whole page; a ``refreshed`` one loads the script that redraws its charts."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)} · openai-worker</title><style>{STYLE}</style>"
        f"{SCRIPT if refreshed else ''}</head>"
        f'<body><h1><a href="/">openai-worker</a> · {escape(title)}</h1>{body}</body></html>'
    )


def status(value: Any) -> str:
    text = escape(str(value))
    return f'<span class="status {text}">{text}</span>'


def job_link(job_id: str) -> str:
    return f'<a href="/jobs/{quote(job_id, safe="")}">{escape(job_id)}</a>'


def configuration_link(name: Any) -> str:
    """A link to a configuration's page; nothing for a job without one."""
    if not name:
        return ""
    return f'<a href="/configurations/{quote(str(name), safe="")}">{escape(str(name))}</a>'


def retry_form(job_id: str) -> str:
    action = f"/jobs/{quote(job_id, safe='')}/retry"
    return f'<form method="post" action="{action}"><button type="submit">Retry</button></form>'


def error_text(record: dict[str, Any]) -> str:
    error = record.get("error") or {}
    if not error:
        return ""
    return escape(f"{error.get('type', '')}: {error.get('message', '')}")


def short_id(value: Any, length: int = 12) -> str:
    """The start of a long id, the whole of it on hover."""
    text = str(value or "")
    shown = text if len(text) <= length else text[:length] + "…"
    return f'<span title="{escape(text)}">{escape(shown)}</span>'


def request_counts(group: dict[str, Any]) -> str:
    """``completed / failed / total`` from the provider; before it has counted, ``– / – /``
    the requests collected."""
    counts = group.get("request_counts")
    if isinstance(counts, dict) and counts:
        values = [counts.get(name, 0) for name in ("completed", "failed", "total")]
    else:
        values = ["–", "–", group.get("requests") if group.get("requests") is not None else "–"]
    return escape(" / ".join(str(value) for value in values))


def batch_rows(groups: list[dict[str, Any]]) -> str:
    """The batch tier's groups as a table, or a line saying there are none."""
    if not groups:
        return "<p id=batches class=empty>No batch-tier groups.</p>"
    rows = "".join(
        f"<tr><td>{short_id(g.get('group'))}</td>"
        f"<td>{escape(str(g.get('configuration') or ''))}</td>"
        f"<td>{escape(str(g.get('model') or ''))}</td>"
        f"<td>{escape(str(g.get('state') or ''))}</td>"
        f"<td>{escape(str(g.get('provider_status') or ''))}</td>"
        f"<td>{escape(str(g.get('batch_id') or ''))}</td>"
        f"<td>{request_counts(g)}</td>"
        f"<td>{escape(str(g.get('created_at') or ''))}</td></tr>"
        for g in groups
    )
    return (
        "<table id=batches><tr><th>group</th><th>configuration</th><th>model</th>"
        "<th>state</th><th>provider status</th><th>batch</th>"
        f"<th>requests (completed / failed / total)</th><th>created</th></tr>{rows}</table>"
    )


def cell(value: Any) -> str:
    """One escaped table value; a dash for none."""
    return "–" if value is None else escape(str(value))


def member_state(member: dict[str, Any], reason: str | None) -> str:
    """A member's state as a badge; out of service says so, with the reason."""
    if member.get("state") != "out":
        return status(member.get("state"))
    return f'<span class="status out">out of service</span> {cell(reason or "no reason given")}'


def pool_rows(pools: list[dict[str, Any]]) -> str:
    """Every pool member's routing state, a row each, grouped by pool; or a line saying
    there are no pools."""
    if not pools:
        return "<p id=pools class=empty>No pools.</p>"
    groups = []
    for pool in pools:
        reasons = {o.get("configuration"): o.get("reason") for o in pool.get("out_of_service", [])}
        head = f"<td>{cell(pool.get('name'))}</td><td>{cell(pool.get('strategy'))}</td>"
        rows = "".join(
            f"<tr class={'out' if m.get('state') == 'out' else 'member'}>{head}"
            f"<td>{cell(m.get('configuration'))}</td>"
            f"<td>{member_state(m, reasons.get(m.get('configuration')))}</td>"
            f"<td>{cell(m.get('in_flight'))}</td><td>{cell(m.get('latency_ms'))}</td>"
            f"<td>{cell(m.get('failures_in_a_row'))}</td>"
            f"<td>{cell(round(m['cooling_s'], 1) if m.get('cooling_s') else None)}</td></tr>"
            for m in pool.get("members", [])
        )
        named = pool.get("fallback")
        fallback = f"fallback: {cell(named)}" if named else "no fallback"
        fallback = f"<tr class=fallback><td colspan=8>{fallback}</td></tr>"
        groups.append(f"<tbody>{rows}{fallback}</tbody>")
    return (
        "<table id=pools><thead><tr><th>pool</th><th>strategy</th><th>member</th>"
        "<th>state</th><th>in flight</th><th>latency ms</th><th>failures in a row</th>"
        f"<th>cooling s left</th></tr></thead>{''.join(groups)}</table>"
    )


def overview(
    health: dict[str, Any],
    jobs: list[dict[str, Any]],
    groups: list[dict[str, Any]],
    charts: str = "",
) -> str:
    """The charts (markup already, see ``panel``) first, then health, queues, workers,
    recent jobs, batch groups and pools."""
    state = "healthy" if health["healthy"] else "unhealthy"
    problems = "".join(f"<li>{escape(p)}</li>" for p in health["problems"])
    queue_rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{escape(str(q['ready']))}</td>"
        f"<td>{escape(str(q['delayed']))}</td>"
        f"<td>{escape(str(q['dead_lettered']))}</td></tr>"
        for name, q in health["queues"].items()
    )
    worker_rows = "".join(
        f"<tr><td>{escape(w['worker_id'])}</td><td>{escape(str(w['last_seen_s']))} s ago</td>"
        f"<td>{'alive' if w['alive'] else 'stale'}</td></tr>"
        for w in health["workers"]["heartbeats"]
    )
    job_rows = "".join(
        f"<tr><td>{job_link(r['job_id'])}</td><td>{escape(str(r.get('operation')))}</td>"
        f"<td>{configuration_link(r.get('configuration'))}</td><td>{status(r.get('status'))}</td>"
        f"<td>{escape(str(r.get('attempts', 0)))}</td>"
        f"<td>{escape(str(r.get('enqueued_at') or ''))}</td>"
        f"<td>{error_text(r)}</td>"
        f"<td>{retry_form(r['job_id']) if r.get('status') == 'failed' else ''}</td></tr>"
        for r in jobs
    )
    body = (
        f"{charts}"
        f'<p class="{state}"><strong>{state}</strong> · '
        f"{escape(str(health['workers']['alive']))} live workers · "
        f"{escape(str(health['failed_jobs']))} failed jobs</p><ul>{problems}</ul>"
        "<h2>Queues</h2><table><tr><th>queue</th><th>ready</th><th>delayed</th>"
        f"<th>dead-lettered</th></tr>{queue_rows}</table>"
        "<h2>Workers</h2><table><tr><th>worker</th><th>last heartbeat</th><th>state</th></tr>"
        f"{worker_rows}</table>"
        "<h2>Recent jobs</h2><table id=jobs><tr><th>job</th><th>operation</th>"
        "<th>configuration</th><th>status</th><th>attempts</th><th>enqueued</th>"
        f"<th>error</th><th></th></tr>{job_rows}</table>"
        f"<h2>Batches</h2>{batch_rows(groups)}"
        f"<h2>Pools</h2>{pool_rows(health['pools'])}"
    )
    return page("dashboard", body, refreshed=bool(charts))


#: The longest record text a job page shows; a longer output is cut, with a note.
MAX_SHOWN_CHARS = 200_000


def job(record: dict[str, Any]) -> str:
    retry = retry_form(record["job_id"]) if record.get("status") == "failed" else ""
    text = json.dumps(record, indent=2, ensure_ascii=False)
    note = ""
    if record.get("status") == "succeeded" and record.get("output") is None:
        note = "The output is stored in parts, too large to show here."
    elif len(text) > MAX_SHOWN_CHARS:
        text = text[:MAX_SHOWN_CHARS]
        note = f"Only the first {MAX_SHOWN_CHARS:,} characters are shown."
    if note:
        command = f"openai-worker result {record['job_id']}"
        note = f"<p class=note>{escape(note)} Read it with <code>{escape(command)}</code>.</p>"
    body = (
        f"<p>{status(record.get('status'))} {error_text(record)}</p>{retry}{note}"
        f"<pre id=record>{escape(text)}</pre>"
    )
    return page(f"job {record['job_id']}", body)


def message(title: str, text: str) -> str:
    return page(title, f"<p>{escape(text)}</p>")


def login(problem: str = "") -> str:
    """The form asking for the dashboard's token."""
    note = f"<p class=unhealthy>{escape(problem)}</p>" if problem else ""
    form = (
        '<form method="post" action="/login"><label>Token '
        '<input type="password" name="token" autocomplete="current-password"></label> '
        '<button type="submit">Sign in</button></form>'
    )
    return page("sign in", note + form)
