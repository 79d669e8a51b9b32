"""Bulk submission from JSONL (``submit-batch``): one ``{"operation": …, "payload": …}`` per line.

A bad line is reported with its line number and the rest go on. Progress is drawn on a
terminal only (a line redrawn on stderr), so stdout stays machine-readable.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from worker.errors import ValidationError
from worker.results import FINAL_STATUSES

BAR_WIDTH = 30


class Progress:
    """``label [#####.....] 12/40`` redrawn in place, when ``stream`` is a terminal."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label, self.total, self.done = label, total, 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self._draw()

    def advance(self, count: int = 1) -> None:
        self.done = min(self.total, self.done + count)
        self._draw()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        if not self.enabled:
            return
        filled = BAR_WIDTH * self.done // self.total if self.total else BAR_WIDTH
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
        self.stream.flush()


@dataclass
class BatchResult:
    """What happened to each line: submitted (line → job id) or invalid (line → why)."""

    submitted: dict[int, str] = field(default_factory=dict)
    invalid: dict[int, str] = field(default_factory=dict)
    records: dict[int, dict[str, Any] | None] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "submitted": len(self.submitted),
            "invalid": len(self.invalid),
            "jobs": [{"line": n, "job_id": job_id} for n, job_id in self.submitted.items()],
            "errors": [{"line": n, "error": error} for n, error in self.invalid.items()],
        }
        if self.records:
            statuses = [(r or {}).get("status", "unknown") for r in self.records.values()]
            summary["statuses"] = {s: statuses.count(s) for s in sorted(set(statuses))}
        return summary


def parse_line(text: str) -> tuple[str, dict[str, Any]]:
    """The operation and payload of one line; ``ValidationError`` says what is wrong."""
    try:
        entry = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"not valid JSON: {exc}") from None
    if not isinstance(entry, dict):
        raise ValidationError('expected an object {"operation": ..., "payload": ...}')
    unknown = sorted(set(entry) - {"operation", "payload"})
    if unknown:
        raise ValidationError(f"unknown fields: {', '.join(unknown)}")
    operation, payload = entry.get("operation"), entry.get("payload")
    if not isinstance(operation, str) or not operation:
        raise ValidationError('"operation" must be a non-empty string')
    if not isinstance(payload, dict):
        raise ValidationError('"payload" must be an object')
    return operation, payload


def submit_lines(
    client: Any, lines: list[str], stream: TextIO | None = None, **options: Any
) -> BatchResult:
    """Submit every valid line through ``client`` (with ``options``: ``tier``,
    ``on_expiry``); blank lines are skipped."""
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    result = BatchResult()
    progress = Progress("submitting", len(numbered), stream)
    for number, line in numbered:
        try:
            operation, payload = parse_line(line)
            result.submitted[number] = client.submit(operation, payload, **options)
        except ValidationError as exc:
            detail = f" ({json.dumps(exc.details)})" if exc.details else ""
            result.invalid[number] = f"{exc.message}{detail}"
        progress.advance()
    progress.close()
    return result


def wait_for(
    client: Any,
    result: BatchResult,
    timeout_s: float,
    stream: TextIO | None = None,
    poll_s: float = 0.2,
) -> None:
    """Fill ``result.records`` as jobs finish, until all have or ``timeout_s`` runs out."""
    pending = dict(result.submitted)
    progress = Progress("finishing", len(pending), stream)
    deadline = time.monotonic() + timeout_s
    while True:
        for number, job_id in list(pending.items()):
            record = client.result(job_id)
            result.records[number] = record
            if record is not None and record["status"] in FINAL_STATUSES:
                del pending[number]
                progress.advance()
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))
    progress.close()
    result.records = dict(sorted(result.records.items()))


def write_records(records: Iterable[dict[str, Any] | None], out: TextIO) -> int:
    """Every record as one JSON line; returns how many were written."""
    count = 0
    for record in records:
        if record is not None:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
