"""Hooks for what happens to jobs and provider calls, for metrics.

The runner, the provider client and the batch tier's steps report to an observer; the
default one does nothing. A metrics exporter implements the same methods.
"""

from __future__ import annotations

from typing import Any, Protocol


class JobObserver(Protocol):
    def job_started(self, operation: str, configuration: str | None) -> None: ...

    def job_retrying(self, operation: str, configuration: str | None, error_type: str) -> None: ...

    def job_finished(self, record: dict[str, Any], duration_s: float) -> None:
        """A job reached ``succeeded`` or ``failed``; ``duration_s`` is this attempt's."""
        ...

    def provider_response(
        self, configuration: str, path: str, status_code: int, duration_s: float
    ) -> None:
        """Every HTTP answer from a provider (``status_code`` 0: no answer at all)."""
        ...

    def batch_ended(self, configuration: str, status: str, request_counts: dict[str, Any]) -> None:
        """A provider batch ended (``completed``, ``failed``, ``expired``, ``cancelled``),
        with its final ``request_counts`` (``total``, ``completed``, ``failed``); once per
        batch."""
        ...

    def pool_member_event(self, pool: str, member: str, event: str) -> None:
        """A pool's member was cooled down (``cooldown``) or taken out (``out``)."""
        ...


class NullObserver:
    """Observes nothing."""

    def job_started(self, operation: str, configuration: str | None) -> None:
        pass

    def job_retrying(self, operation: str, configuration: str | None, error_type: str) -> None:
        pass

    def job_finished(self, record: dict[str, Any], duration_s: float) -> None:
        pass

    def provider_response(
        self, configuration: str, path: str, status_code: int, duration_s: float
    ) -> None:
        pass

    def batch_ended(self, configuration: str, status: str, request_counts: dict[str, Any]) -> None:
        pass

    def pool_member_event(self, pool: str, member: str, event: str) -> None:
        pass


class FanOut:
    """Tells several observers (the per-minute buckets, Prometheus) the same events."""

    def __init__(self, *observers: JobObserver) -> None:
        self.observers = observers

    def job_started(self, operation: str, configuration: str | None) -> None:
        for observer in self.observers:
            observer.job_started(operation, configuration)

    def job_retrying(self, operation: str, configuration: str | None, error_type: str) -> None:
        for observer in self.observers:
            observer.job_retrying(operation, configuration, error_type)

    def job_finished(self, record: dict[str, Any], duration_s: float) -> None:
        for observer in self.observers:
            observer.job_finished(record, duration_s)

    def provider_response(
        self, configuration: str, path: str, status_code: int, duration_s: float
    ) -> None:
        for observer in self.observers:
            observer.provider_response(configuration, path, status_code, duration_s)

    def batch_ended(self, configuration: str, status: str, request_counts: dict[str, Any]) -> None:
        for observer in self.observers:
            observer.batch_ended(configuration, status, request_counts)

    def pool_member_event(self, pool: str, member: str, event: str) -> None:
        for observer in self.observers:
            observer.pool_member_event(pool, member, event)
