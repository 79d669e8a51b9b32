"""The retry policy as a small immutable value: which failures to retry, and when.

Two layers retry, each with one job: the HTTP adapter retries a connection that could
not be opened (nothing was sent, so nothing can be billed twice); this policy decides
whether a whole job attempt is retried and after how long, and the actor turns that
delay into a delayed re-enqueue so no worker thread sleeps.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring the provider's ``Retry-After``."""

    DEFAULT_BACKOFF_BASE_S = 2.0
    DEFAULT_BACKOFF_MAX_S = 120.0
    #: A provider asking for a longer wait than this is still honoured, up to this bound.
    DEFAULT_RETRY_AFTER_MAX_S = 3600.0
    RETRYABLE_STATUSES = frozenset({408, 409, 429})

    max_retries: int = 5
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S
    backoff_max_s: float = DEFAULT_BACKOFF_MAX_S
    retry_after_max_s: float = DEFAULT_RETRY_AFTER_MAX_S
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def with_max_retries(self, max_retries: int) -> RetryPolicy:
        """The same policy with another retry budget."""
        return replace(self, max_retries=max_retries)

    def is_retryable_status(self, status_code: int) -> bool:
        """429, 408, 409 and every 5xx may succeed later; other 4xx never will."""
        return status_code in self.RETRYABLE_STATUSES or 500 <= status_code <= 599

    def allows_retry(self, retries_done: int) -> bool:
        """Whether another attempt fits the budget after ``retries_done`` retries."""
        return retries_done < self.max_retries

    def backoff_s(self, retries_done: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2.0**retries_done))
        jitter: float = self.rng.uniform(0, ceiling / 2)
        return ceiling / 2 + jitter

    def delay_s(self, retries_done: int, retry_after_s: float | None) -> float:
        """How long to wait before the next attempt: the provider's wish wins."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.retry_after_max_s)
        return self.backoff_s(retries_done)

    @staticmethod
    def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
        """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date).

        ``headers`` must look up names case-insensitively (as ``requests`` headers do).
        """
        millis = headers.get("retry-after-ms")
        if millis:
            try:
                value = float(millis) / 1000.0
                if value >= 0 and value == value:
                    return value
            except ValueError:
                pass
        raw = headers.get("retry-after")
        if not raw:
            return None
        raw = raw.strip()
        try:
            seconds = float(raw)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                return None
            if when is None:
                return None
            now = time.time() if now is None else now
            return max(0.0, when.timestamp() - now)
        return seconds if seconds >= 0 and seconds == seconds else None
