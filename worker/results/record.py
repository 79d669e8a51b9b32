"""The result record of JOBS.md and the helpers that build it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

STATUSES = ("queued", "batched", "running", "retrying", "waiting", "succeeded", "failed")
FINAL_STATUSES = frozenset({"succeeded", "failed"})


def now_iso() -> str:
    """UTC now as ISO 8601 with milliseconds and a ``Z``."""
    return iso_after(0.0)


def iso_after(seconds: float) -> str:
    """UTC ``seconds`` from now as ISO 8601 with milliseconds and a ``Z``."""
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_record(
    job_id: str, operation: str, configuration: str | None, *, on_expiry: str | None = None
) -> dict[str, Any]:
    """A freshly queued job's record; with ``on_expiry``, a batch-tier job's."""
    record: dict[str, Any] = {
        "job_id": job_id,
        "operation": operation,
        "configuration": configuration,
        "status": "queued",
        "success": None,
        "output": None,
        "error": None,
        "attempts": 0,
        "usage": None,
        "enqueued_at": now_iso(),
        "started_at": None,
        "finished_at": None,
        # When a retrying or waiting job runs again; seconds it has waited for capacity.
        "retry_at": None,
        "waited_s": 0.0,
    }
    if on_expiry is not None:
        record["tier"] = "batch"
        record["batch"] = {"on_expiry": on_expiry}
    return record


#: The fields of a record in the order JOBS.md lists them (and ``new_record`` writes them).
FIELD_ORDER = tuple(new_record("", "", None))


def in_field_order(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with its fields in the usual order (Redis's Lua JSON encoder keeps none);
    any other field follows."""
    ordered = {name: record[name] for name in FIELD_ORDER if name in record}
    ordered.update(record)
    return ordered
