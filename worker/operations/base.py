"""What an operation is, and what it gets to work with.

An operation turns a validated payload into wire requests through a ``JobContext`` and
returns an ``Outcome``. It knows nothing of Redis or Dramatiq.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from marshmallow import Schema

from worker.catalog import OperationSpec
from worker.errors import ValidationError
from worker.functions import FunctionRegistry
from worker.ledger import CallLog, memory_ledger
from worker.providers import ProviderClient
from worker.retries import RetryPolicy
from worker.settings import Settings
from worker.transport import HttpClient


@dataclass
class Outcome:
    """A successful operation's ``output`` and the token ``usage`` it reported."""

    output: Mapping[str, Any]
    usage: dict[str, Any] | None = None


@dataclass
class JobContext:
    """What one job attempt may use: its provider, the functions, the settings."""

    job_id: str
    client: ProviderClient
    functions: FunctionRegistry
    settings: Settings
    http: HttpClient
    log: Any = field(default_factory=structlog.get_logger)
    #: The job's call ledger: answers of earlier deliveries are replayed from it.
    calls: CallLog = field(default_factory=memory_ledger)

    @property
    def sends_model(self) -> bool:
        return self.client.provider.sends_model

    def model_fields(self, model: str | None) -> dict[str, Any]:
        """``{"model": …}`` for the body; OpenAI needs one, Azure's deployment decides."""
        if model:
            return {"model": model}
        if self.sends_model:
            raise ValidationError(
                "model is required for OpenAI configurations", details={"model": ["required"]}
            )
        return {}


@dataclass(frozen=True)
class Operation:
    """A catalogue entry (``worker.catalog``) with its implementation."""

    spec: OperationSpec
    run: Callable[[JobContext, dict[str, Any]], Outcome]
    #: Optional: the retry policy for one payload (raw_request's own retry options);
    #: given the raw payload and the worker's default policy.
    retry_policy: Callable[[Any, RetryPolicy], RetryPolicy] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def schema(self) -> type[Schema]:
        return self.spec.schema


def add_usage(total: dict[str, Any] | None, more: dict[str, Any] | None) -> dict[str, Any] | None:
    """Sum token counts over several calls (nested counts are summed too)."""
    if not more:
        return total
    if not total:
        return dict(more)
    summed = dict(total)
    for key, value in more.items():
        if isinstance(value, bool):
            summed[key] = value
        elif isinstance(value, int | float) and isinstance(summed.get(key), int | float):
            summed[key] = summed[key] + value
        elif isinstance(value, dict) and isinstance(summed.get(key), dict):
            summed[key] = add_usage(summed[key], value)
        else:
            summed.setdefault(key, value)
    return summed
