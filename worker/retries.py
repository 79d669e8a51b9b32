"""Every retry decision of the worker: what is retried, where, how often and after how long.

Failures are retried at one of four levels, each with one job (and webhooks by their own
schedule, ``WebhookRetries``):

1. **Inside one HTTP call** (``CONNECT_RETRY``): only a connection that could not be
   opened. Nothing was sent, so nothing can be billed twice; the transport's adapter
   applies it.
2. **A whole job attempt** (``RetryPolicy``): a retryable error (429, 408, 409, 5xx, no
   answer) within the job's retry budget, after the provider's ``Retry-After`` or an
   exponential backoff with jitter. The runner asks the queue for a delayed
   re-delivery, so no worker thread sleeps.
3. **Inside a job** (``INLINE``): one prompt of ``chat_completions_multiple`` is retried
   in its thread, and a rate-limit wait is slept through, when the wait is short, so
   the work already answered in the same job is not repeated.
4. **Around the runner**: a final record Redis refuses is written again within the
   delivery (``FINAL_WRITE``); a delivery that died with its worker is run again
   (``INTERRUPTIONS_TOLERATED`` beyond the budget); failures outside the runner are
   retried by the queue with its own backoff (``INFRASTRUCTURE``).

Every wait is jittered, a provider's own ``Retry-After`` included (never earlier than
it asked), so jobs that failed together do not come back together.

Errors say whether waiting can help (``WorkerError.retryable``, decided where the
failure is understood, with the status classification below); this module decides
whether another try fits and when it happens.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from worker.settings import Settings

#: Provider error codes that arrive with a retryable status but never pass by waiting.
PERMANENT_CODES = frozenset({"insufficient_quota", "DeploymentNotFound", "billing_not_active"})


@dataclass(frozen=True)
class ConnectRetry:
    """Level 1: re-open a connection that failed to open, never re-send a request."""

    attempts: int = 2
    backoff_factor_s: float = 0.2


CONNECT_RETRY = ConnectRetry()


@dataclass(frozen=True)
class RetryPolicy:
    """Level 2: exponential backoff with jitter, honouring the provider's ``Retry-After``."""

    DEFAULT_BACKOFF_BASE_S = 2.0
    DEFAULT_BACKOFF_MAX_S = 120.0
    #: A provider asking for a longer wait than this is still honoured, up to this bound.
    DEFAULT_RETRY_AFTER_MAX_S = 3600.0
    RETRYABLE_STATUSES = frozenset({408, 409, 429})
    #: 5xx answers that say the server will never do this: not implemented, a protocol
    #: or configuration it does not support, a loop, network authentication required.
    PERMANENT_5XX = frozenset({501, 505, 506, 508, 510, 511})
    #: Deliveries lost with their worker that a job may have beyond its retry budget:
    #: a crash is not the job's fault, only one that keeps taking workers down is given up.
    INTERRUPTIONS_TOLERATED = 3

    max_retries: int = 5
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S
    backoff_max_s: float = DEFAULT_BACKOFF_MAX_S
    retry_after_max_s: float = DEFAULT_RETRY_AFTER_MAX_S
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The worker's default policy (``OPENAI_WORKER_MAX_RETRIES``, ``…_BACKOFF_*``)."""
        return cls(
            max_retries=settings.max_retries,
            backoff_base_s=settings.backoff_base_s,
            backoff_max_s=settings.backoff_max_s,
        )

    def with_max_retries(self, max_retries: int) -> RetryPolicy:
        """The same policy with another retry budget."""
        return replace(self, max_retries=max_retries)

    @classmethod
    def is_retryable_status(cls, status_code: int) -> bool:
        """429, 408, 409 and 5xx may succeed later; other 4xx and permanent 5xx never will."""
        if status_code in cls.PERMANENT_5XX:
            return False
        return status_code in cls.RETRYABLE_STATUSES or 500 <= status_code <= 599

    @classmethod
    def is_retryable_answer(cls, status_code: int, code: str | None) -> bool:
        """Whether an error answer may succeed later: its status, unless its code says no."""
        return cls.is_retryable_status(status_code) and code not in PERMANENT_CODES

    def allows_retry(self, retries_done: int) -> bool:
        """Whether another attempt fits the budget after ``retries_done`` retries."""
        return retries_done < self.max_retries

    def gives_up_after_interruption(self, attempts_done: int) -> bool:
        """Whether a job whose worker died ``attempts_done`` attempts in should end."""
        return attempts_done >= self.max_retries + self.INTERRUPTIONS_TOLERATED

    def backoff_s(self, retries_done: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2.0**retries_done))
        jitter: float = self.rng.uniform(0, ceiling / 2)
        return ceiling / 2 + jitter

    def delay_s(self, retries_done: int, retry_after_s: float | None) -> float:
        """How long to wait before the next attempt: the provider's wish wins, jittered."""
        if retry_after_s is not None:
            return self.jittered(min(max(retry_after_s, 0.0), self.retry_after_max_s))
        return self.backoff_s(retries_done)

    def jittered(self, wait_s: float) -> float:
        """``wait_s`` plus up to a tenth more (at least up to a second): never less."""
        return wait_s + self.rng.uniform(0, max(1.0, wait_s / 10))

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


@dataclass(frozen=True)
class ConnectorRetryPolicy(RetryPolicy):
    """``raw_request``'s own retry options: a fixed delay, or one that doubles, no jitter."""

    base_delay_s: float = 0.0
    exponential: bool = False

    @classmethod
    def from_options(
        cls, *, max_retries: int, delay_ms: float, exponential: bool, default: RetryPolicy
    ) -> ConnectorRetryPolicy:
        """The policy a payload's ``retry`` options ask for, bounded like the default."""
        base_s = delay_ms / 1000.0
        if exponential and base_s == 0:
            base_s = default.backoff_base_s
        return cls(
            max_retries=max_retries,
            backoff_max_s=max(default.backoff_max_s, base_s),
            base_delay_s=base_s,
            exponential=exponential,
        )

    def backoff_s(self, retries_done: int) -> float:
        factor = 2.0**retries_done if self.exponential else 1.0
        return min(self.backoff_max_s, self.base_delay_s * factor)


@dataclass(frozen=True)
class InlineRetries:
    """Level 3: waits short enough to hold a worker thread for."""

    #: Retries of one prompt of a multi-prompt job (never more than the job's budget).
    prompt_retries: int = 2
    #: The longest wait before retrying a prompt; a longer one fails that prompt.
    max_prompt_wait_s: float = 10.0
    #: The longest a thread sleeps for rate-limit capacity; longer, the job is re-queued.
    max_rate_limit_wait_s: float = 2.0

    def prompt_policy(self, job_policy: RetryPolicy) -> RetryPolicy:
        """The policy of one prompt's inline retries, within the job's budget."""
        return RetryPolicy(max_retries=min(job_policy.max_retries, self.prompt_retries))

    def prompt_wait_s(
        self, policy: RetryPolicy, retries_done: int, retryable: bool, retry_after_s: float | None
    ) -> float | None:
        """How long to wait before retrying a prompt, or None to give that prompt up."""
        wait_s = policy.delay_s(retries_done, retry_after_s)
        if retryable and policy.allows_retry(retries_done) and wait_s <= self.max_prompt_wait_s:
            return wait_s
        return None

    def sleeps_through(self, waited_s: float, wait_s: float) -> bool:
        """Whether a rate-limit wait is slept through rather than re-queueing the job."""
        return waited_s + wait_s <= self.max_rate_limit_wait_s


INLINE = InlineRetries()


@dataclass(frozen=True)
class FinalWriteRetries:
    """A final record Redis refused (out of memory, a read-only replica after failover).

    The outcome is in hand: writing it again later is cheap, calling the provider again
    is not. The delays add up to a few minutes before the delivery gives up.
    """

    first_delay_s: float = 0.25
    max_delay_s: float = 10.0
    patience_s: float = 180.0

    def delays_s(self) -> Iterator[float]:
        """The waits between attempts at the write, doubling up to ``max_delay_s``
        (computed as they are needed: nearly every write needs none)."""
        delay, total = self.first_delay_s, 0.0
        while total + delay <= self.patience_s:
            yield delay
            total += delay
            delay = min(delay * 2, self.max_delay_s)


FINAL_WRITE = FinalWriteRetries()


@dataclass(frozen=True)
class InfrastructureRetries:
    """Level 4: what the queue retries when the runner itself could not finish.

    The runner applies the job's policy and asks for each of its retries explicitly;
    those are always honoured. Anything else escaping the runner (Redis unreachable
    while writing a record) is retried ``attempts`` times with the queue's backoff.
    """

    attempts: int = 10
    min_backoff_ms: int = 1000
    max_backoff_ms: int = 5 * 60 * 1000

    def retries(self, retries_done: int, *, asked_by_runner: bool) -> bool:
        """Whether the queue delivers a message again after a failed delivery."""
        return asked_by_runner or retries_done < self.attempts


INFRASTRUCTURE = InfrastructureRetries()


@dataclass(frozen=True)
class WebhookRetries:
    """A webhook that found no receiver: tried again with exponential backoff and jitter
    (the receiver's ``Retry-After`` honoured, up to ``backoff_max_s``) until ``max_age_s``
    have passed since its first attempt, the last attempt falling on that bound.

    Each wait is a delayed message, as a job's retry is: no thread sleeps.
    """

    backoff_base_s: float = 5.0
    backoff_max_s: float = 3600.0
    max_age_s: float = 24 * 3600.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookRetries:
        """``OPENAI_WORKER_WEBHOOK_BACKOFF_BASE_S``, ``…_BACKOFF_MAX_S``, ``…_MAX_AGE_S``."""
        webhooks = settings.webhooks
        return cls(webhooks.backoff_base_s, webhooks.backoff_max_s, webhooks.max_age_s)

    def delay_s(
        self, attempts_done: int, elapsed_s: float, retry_after_s: float | None = None
    ) -> float | None:
        """The wait before the next attempt, or None when the webhook is given up."""
        left_s = self.max_age_s - elapsed_s
        if left_s <= 0:
            return None
        policy = RetryPolicy(
            backoff_base_s=self.backoff_base_s,
            backoff_max_s=self.backoff_max_s,
            retry_after_max_s=self.backoff_max_s,
            rng=self.rng,
        )
        return min(policy.delay_s(max(attempts_done - 1, 0), retry_after_s), left_s)
