"""One configuration's page: its charts (see ``panel``) and its most recent failed jobs."""

from __future__ import annotations

from html import escape
from typing import Any

from worker.dashboard.pages import error_text, job_link, page, retry_form


def failure_rows(records: list[dict[str, Any]]) -> str:
    """Failed jobs as a table, newest first, or a line saying there are none."""
    if not records:
        return "<p id=failures class=empty>No failed jobs of this configuration.</p>"
    rows = "".join(
        f"<tr><td>{job_link(r['job_id'])}</td><td>{escape(str(r.get('operation') or ''))}</td>"
        f"<td>{escape(str(r.get('attempts', 0)))}</td>"
        f"<td>{escape(str(r.get('finished_at') or r.get('enqueued_at') or ''))}</td>"
        f"<td>{error_text(r)}</td><td>{retry_form(r['job_id'])}</td></tr>"
        for r in records
    )
    return (
        "<table id=failures><tr><th>job</th><th>operation</th><th>attempts</th>"
        f"<th>finished</th><th>error</th><th></th></tr>{rows}</table>"
    )


def configuration(name: str, switch: str, charts: str, failed: list[dict[str, Any]]) -> str:
    """``switch`` and ``charts`` are markup already; ``failed`` holds only this
    configuration's records."""
    body = f"{switch}{charts}<h2>Recent failures</h2>{failure_rows(failed)}"
    return page(f"configuration {name}", body, refreshed=True)
