"""A job request's body: read within a size limit, parsed, its envelope checked.

The envelope (``operation``, ``payload``, ``idempotency_key``, ``tier``, ``on_expiry``,
``callback_url``) is checked here, each refusal pointing at its field; the payload is
checked by the client against the operation's schema, as for every producer.
``idempotency_key`` and ``callback_url`` go into the payload, where the worker reads
them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from worker.api.openapi import TIERS
from worker.api.problems import Problem, field_errors
from worker.catalog import CATALOG
from worker.errors import ValidationError
from worker.submission import ON_EXPIRY
from worker.validation import check_tier

#: Envelope fields copied into the payload under the same name.
INTO_PAYLOAD = ("idempotency_key", "callback_url")
FIELDS = frozenset({"operation", "payload", "tier", "on_expiry", *INTO_PAYLOAD})


@dataclass(frozen=True)
class Submission:
    """What ``Client.submit`` is called with."""

    operation: str
    payload: dict[str, Any]
    tier: str | None
    on_expiry: str
    #: Envelope fields that went into the payload: their refusals point at the envelope.
    moved: tuple[str, ...] = ()


async def read_body(chunks: AsyncIterator[bytes], declared: str | None, limit: int) -> bytes:
    """The whole body, or 413 as soon as it is known to pass ``limit`` bytes."""
    too_large = Problem("too-large", f"a job request may hold at most {limit} bytes")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def parse(body: bytes) -> Submission:
    """The submission in ``body``; a 400 or 422 problem naming what is wrong."""
    try:
        document = json.loads(body)
    except RecursionError:
        raise Problem("malformed-request", "the body is nested too deeply") from None
    except ValueError as exc:
        raise Problem("malformed-request", f"the body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise Problem("malformed-request", "the body must be a JSON object")
    errors = [
        {"pointer": f"/{name}", "detail": "Unknown field."}
        for name in sorted(set(document) - FIELDS)
    ]
    operation = document.get("operation")
    if not isinstance(operation, str) or operation not in CATALOG:
        known = ", ".join(CATALOG)
        errors.append({"pointer": "/operation", "detail": f"Must be one of: {known}."})
    payload = document.get("payload")
    if not isinstance(payload, dict):
        errors.append({"pointer": "/payload", "detail": "Must be a JSON object."})
        payload = {}
    tier = document.get("tier")
    if tier is not None and tier not in TIERS:
        errors.append({"pointer": "/tier", "detail": f"Must be one of: {', '.join(TIERS)}."})
    on_expiry = document.get("on_expiry", "standard")
    if on_expiry not in ON_EXPIRY:
        detail = f"Must be one of: {', '.join(ON_EXPIRY)}."
        errors.append({"pointer": "/on_expiry", "detail": detail})
    payload = dict(payload)
    moved = []
    for name in INTO_PAYLOAD:
        if name not in document:
            continue
        value = document[name]
        if not isinstance(value, str):
            errors.append({"pointer": f"/{name}", "detail": "Must be a string."})
        elif name in payload and payload[name] != value:
            errors.append({"pointer": f"/{name}", "detail": f"Differs from the payload's {name}."})
        else:
            payload[name] = value
            moved.append(name)
    if errors:
        raise Problem("validation", "the job request was refused", errors=errors)
    assert isinstance(operation, str)
    if tier is not None:
        try:
            check_tier(operation, CATALOG[operation].not_batchable, payload, tier)
        except ValidationError as exc:
            raise Problem(
                "validation", exc.message, errors=[{"pointer": "/tier", "detail": exc.message}]
            ) from None
    return Submission(operation, payload, tier, on_expiry, tuple(moved))


def refused(exc: ValidationError, submission: Submission) -> Problem:
    """The 422 for a payload the client refused, each field error pointing into the body."""
    fields = (exc.details or {}).get("fields")
    if not fields:
        return Problem(
            "validation", exc.message, errors=[{"pointer": "/payload", "detail": exc.message}]
        )
    errors = field_errors(fields, "/payload")
    for entry in errors:
        for name in submission.moved:
            if entry["pointer"] == f"/payload/{name}":
                entry["pointer"] = f"/{name}"
    return Problem("validation", exc.message, errors=errors)
