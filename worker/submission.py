"""What both clients check and build before a job is written: one submission.

``Client.submit`` and ``AsyncClient.submit`` differ only in how they wait for Redis;
the checks (operation, payload size, schema, tier, ``on_expiry``) and the queued
record are this module's, so both refuse the same payloads with the same errors.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from worker.catalog import CATALOG
from worker.errors import ValidationError
from worker.results import new_record
from worker.settings import Settings
from worker.validation import check_tier, validate_payload

#: What becomes of a batch-tier job's requests its batch did not answer (expired,
#: cancelled): sent through the standard tier, or the job fails.
ON_EXPIRY = ("standard", "fail")


@dataclass(frozen=True)
class Submission:
    """A checked job, ready to be written and enqueued."""

    operation: str
    payload: dict[str, Any]
    #: The queued record, under a fresh job id.
    record: dict[str, Any]
    idempotency_key: str | None

    @property
    def job_id(self) -> str:
        return str(self.record["job_id"])


def prepare(
    settings: Settings,
    operation: str,
    payload: dict[str, Any],
    *,
    validate: bool = True,
    tier: str | None = None,
    on_expiry: str = "standard",
) -> Submission:
    """The submission of ``payload`` to ``operation``, or ``ValidationError`` for an
    unknown operation, an oversized payload, a tier the operation cannot run in or, with
    ``validate``, a payload the operation's schema refuses."""
    spec = CATALOG.get(operation)
    if spec is None:
        raise ValidationError(f"unknown operation {operation!r}; known: {', '.join(CATALOG)}")
    if not isinstance(payload, dict):
        raise ValidationError("the payload must be a JSON object")
    try:
        size = len(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    except RecursionError:
        raise ValidationError("the payload is nested too deeply to be a job") from None
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"the payload is not plain JSON: {exc}") from None
    if size > settings.max_payload_bytes:
        raise ValidationError(
            f"the payload is {size} bytes, over the limit of "
            f"{settings.max_payload_bytes} (OPENAI_WORKER_MAX_PAYLOAD_BYTES)"
        )
    if validate:
        validate_payload(spec.schema, payload)
    if tier is not None:
        check_tier(operation, spec.not_batchable, payload, tier)
    if on_expiry not in ON_EXPIRY:
        raise ValidationError(f"on_expiry must be one of {', '.join(ON_EXPIRY)}")
    key = payload.get("idempotency_key")
    configuration = payload.get("configuration")
    record = new_record(
        uuid.uuid4().hex,
        operation,
        configuration if isinstance(configuration, str) else None,
        on_expiry=on_expiry if tier == "batch" else None,
    )
    return Submission(operation, payload, record, key if isinstance(key, str) and key else None)
