"""Checking a payload against its operation's schema, with one readable error.

Used by producers before a job is queued and by the runner before it runs (for
producers that enqueue another way); marshmallow's messages become one
``ValidationError`` whose message lists every problem by field.
"""

from __future__ import annotations

import functools
from typing import Any

import marshmallow

from worker.errors import ValidationError


def validate_payload(schema_class: type[marshmallow.Schema], payload: Any) -> dict[str, Any]:
    """The loaded payload, or ``ValidationError`` listing every problem by field."""
    if not isinstance(payload, dict):
        raise ValidationError("the payload must be a JSON object")
    try:
        loaded: dict[str, Any] = _schema(schema_class).load(payload)
    except marshmallow.ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationError(_summary(messages), details={"fields": messages}) from None
    return loaded


@functools.cache
def _schema(schema_class: type[marshmallow.Schema]) -> marshmallow.Schema:
    """One shared instance per schema class.

    Building a schema deep-copies every field (a third of submitting a chat job); a
    marshmallow schema keeps no state between loads, so threads can share one.
    """
    return schema_class()


def _summary(messages: dict[str, Any]) -> str:
    parts = []
    for field, problems in messages.items():
        text = problems if isinstance(problems, str) else _flatten(problems)
        parts.append(f"{field}: {text}")
    return "invalid payload: " + "; ".join(parts)


def _flatten(problems: Any) -> str:
    if isinstance(problems, list):
        return " ".join(_flatten(p) for p in problems)
    if isinstance(problems, dict):
        return " ".join(f"[{k}] {_flatten(v)}" for k, v in problems.items())
    return str(problems)


def check_tier(
    operation: str, not_batchable: str | None, payload: dict[str, Any], tier: str
) -> None:
    """Refuse a tier the operation (its catalogue entry's ``not_batchable``) or this
    payload cannot run in, saying why."""
    if tier == "standard":
        return
    if tier != "batch":
        raise ValidationError(f"tier must be standard or batch, got {tier!r}")
    refusal = batch_refusal(operation, not_batchable, payload)
    if refusal is not None:
        raise refusal


def batch_refusal(
    operation: str, not_batchable: str | None, payload: dict[str, Any]
) -> ValidationError | None:
    """Why this job cannot run in the batch tier, or None when it can."""
    if not_batchable:
        return ValidationError(
            f"{operation} cannot run in the batch tier: {not_batchable}; "
            "submit it with tier standard"
        )
    if payload.get("functions"):
        return ValidationError(
            "function calling cannot run in the batch tier: the worker runs the functions "
            "between calls, and a batch sends every request once, without the answers of "
            "the others; submit it with tier standard",
            details={"functions": ["not in the batch tier"]},
        )
    return None
