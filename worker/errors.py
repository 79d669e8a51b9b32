"""The error hierarchy: one class per ``error.type`` of a result record.

Every failure a job can meet is raised as one of these, so the runner can turn it into
``{"type", "message", "status_code"}`` without guessing. ``retryable`` and
``retry_after_s`` tell the runner whether another attempt may help and how long the
provider asked us to wait.
"""

from __future__ import annotations

from typing import Any


class WorkerError(Exception):
    """Base of every error a job can end with."""

    error_type = "internal"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        """The ``error`` object of a result record."""
        error: dict[str, Any] = {
            "type": self.error_type,
            "message": self.message,
            "status_code": self.status_code,
        }
        if self.details:
            error["details"] = self.details
        return error

    @staticmethod
    def from_dict(error: dict[str, Any]) -> WorkerError:
        """The error an ``as_dict`` describes, of the class of its ``type``."""
        kinds = {kind.error_type: kind for kind in _KINDS}
        kind = kinds.get(str(error.get("type")), InternalError)
        return kind(
            str(error.get("message") or ""),
            status_code=error.get("status_code"),
            details=error.get("details"),
        )


class ValidationError(WorkerError):
    """The payload was refused; retrying the same payload cannot help."""

    error_type = "validation"


class ConfigurationError(WorkerError):
    """The named configuration is missing or unusable (for example, undecryptable)."""

    error_type = "configuration"


class ProviderError(WorkerError):
    """The provider answered with an error; its message and status code are kept."""

    error_type = "provider"


class TransportError(WorkerError):
    """No usable answer arrived: a timeout, a refused or dropped connection."""

    error_type = "transport"


class FunctionError(WorkerError):
    """A registered function failed beyond what the model could recover from."""

    error_type = "function"


class RateLimitError(WorkerError):
    """The configuration's shared rate limit left no capacity within the job's wait bound."""

    error_type = "rate_limited"


class InternalError(WorkerError):
    """A bug or an unexpected condition inside the worker."""

    error_type = "internal"


class CancelledError(WorkerError):
    """An operator cancelled the job (``openai-worker cancel``) before it ended."""

    error_type = "cancelled"


_KINDS = (
    ValidationError,
    ConfigurationError,
    ProviderError,
    TransportError,
    FunctionError,
    RateLimitError,
    InternalError,
    CancelledError,
)


class SettingsError(Exception):
    """An environment variable holds a value the worker cannot use."""
