"""The provider client of a job whose configuration is a pool: each call goes to one
member, and on to another at once when that one fails in a way another may not.

A call claims the first member the pool's strategy prefers that is in service, not
cooling down and under its own rate limits (``worker.pools.router``). A 429, 5xx,
timeout or dropped connection cools that member down for every worker and sends the
same call to the next member with no backoff; 401, 403, a missing deployment or no
quota take the member out of service. Errors every member would give (a refused
request, a content filter) end the call as they are. When no member can take the
call, the pool's fallback (a configuration or another pool) does; when nothing can,
the job waits for the first member to come back (a rate-limit wait, counted, not an
attempt), or fails with the last member's error.

The call ledger sits above this client: a call answered once is never sent again,
whichever member answered it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from worker.configurations import Configuration
from worker.configurations.pool import Member, Pool
from worker.engine.pool_dialect import ANSWER_LIMIT_FIELD, for_member
from worker.errors import ConfigurationError, ProviderError, TransportError, WorkerError
from worker.observer import JobObserver
from worker.pools import MemberState, PoolRouter
from worker.providers import ProviderClient
from worker.ratelimit import Limiter, RateLimited
from worker.retries import INLINE, PERMANENT_CODES
from worker.transport import HttpClient, HttpResponse
from worker.turns import TURNS

log = structlog.get_logger("worker.pools")

#: Answers that say a member cannot serve until someone changes its configuration.
OUT_OF_SERVICE_STATUSES = frozenset({401, 403})
OUT_OF_SERVICE_CODES = PERMANENT_CODES


def failure_kind(error: WorkerError) -> str:
    """``out`` (take the member out), ``failover`` (cool it down, try another) or
    ``final`` (the call fails on any member: end it).

    What waiting could cure on this member (``retryable``: 408, 409, 429, 5xx, a body
    that is not JSON, no answer at all) another member may answer now.
    """
    if isinstance(error, ProviderError):
        code = (error.details or {}).get("code")
        if error.status_code in OUT_OF_SERVICE_STATUSES or code in OUT_OF_SERVICE_CODES:
            return "out"
    if isinstance(error, ProviderError | TransportError) and error.retryable:
        return "failover"
    return "final"


@dataclass(frozen=True)
class MemberClient:
    """A member's own provider client, and its shared rate limits."""

    member: Member
    client: ProviderClient
    limiter: Limiter


class AdmittedLimiter:
    """A member client's limiter: the pool admitted the call already, so it counts
    tokens only."""

    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter

    def acquire(self) -> None:
        pass

    def try_acquire(self) -> float:
        return 0.0

    def record_tokens(self, tokens: int) -> None:
        self.limiter.record_tokens(tokens)


class PoolProvider:
    """What operations see of a pool: today's OpenAI dialect, translated per member."""

    name = "pool"
    answer_limit_field = ANSWER_LIMIT_FIELD
    developer_role = True

    def __init__(self, pool: Pool, configuration: Configuration, sends_model: bool) -> None:
        self.pool = pool
        #: The first member's configuration, until a call is served (then the server's).
        self.configuration = configuration
        self.sends_model = sends_model
        self.base_url = ""

    def url(self, path: str) -> str:
        raise ConfigurationError(
            f"{self.pool.name!r} is a pool; a request to a path of your choosing goes to "
            "one configuration: name a member"
        )

    def query(self, path: str) -> dict[str, str]:
        return {}

    def auth_headers(self) -> dict[str, str]:
        return {}

    def prepare_body(self, body: dict[str, Any]) -> dict[str, Any]:
        return body


class PoolClient(ProviderClient):
    """Sends each call of one job to a member of a pool, failing over between members."""

    def __init__(
        self,
        pool: Pool,
        members: list[MemberClient],
        router: PoolRouter,
        http: HttpClient,
        *,
        observer: JobObserver,
        fallback: Callable[[], ProviderClient] | None = None,
        timeout_s: float,
    ) -> None:
        first = members[0].client.configuration
        sends_model = any(m.client.provider.sends_model and not m.member.model for m in members)
        super().__init__(PoolProvider(pool, first, sends_model), http, observer)
        self.pool = pool
        self.members = {m.member.configuration: m for m in members}
        self.router = router
        self.fallback = fallback
        self.timeout_s = timeout_s
        #: The member (or ``fallback/member``) that answered each call, in order.
        self.served: list[str] = []
        self._lock = threading.Lock()

    def send(self, method: str, path: str, **options: Any) -> HttpResponse:
        self.provider.url(path)  # raises: a pool routes operations' calls only
        raise AssertionError("unreachable")

    def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        tried: set[str] = set()
        last_error: WorkerError | None = None
        waited_s = 0.0
        while True:
            states = self.router.states([m.configuration for m in self.pool.members])
            candidates = [
                m for m in self.router.order(self.pool, states) if m.configuration not in tried
            ]
            waits: list[float] = []
            for member in candidates:
                outcome = self._try(member, path, body, waits)
                if isinstance(outcome, dict):
                    return outcome
                if outcome is not None:
                    tried.add(member.configuration)
                    last_error = outcome
                    break  # read the members again: others may have failed meanwhile
            else:
                if self.fallback is not None:
                    return self._by_fallback(path, body)
                wait_s = self._wait_s(states, waits, last_error)
                if not INLINE.sleeps_through(waited_s, wait_s):
                    raise RateLimited(self.pool.name, wait_s, slept_s=waited_s)
                TURNS.sleep(wait_s)
                waited_s += wait_s

    def _try(
        self, member: Member, path: str, body: dict[str, Any], waits: list[float]
    ) -> dict[str, Any] | WorkerError | None:
        """The answer, the error that moves the call on, or None if the member could
        not take it (rate limit, cooling down or probed by another call meanwhile)."""
        chosen = self.members[member.configuration]
        wait_s = chosen.limiter.try_acquire()
        if wait_s > 0:
            waits.append(wait_s)
            return None
        token = self.router.claim(member.configuration, self.timeout_s or 600.0)
        if token is None:
            return None
        started = time.perf_counter()
        try:
            answer = chosen.client.post_json(path, for_member(body, chosen.client.provider, member))
        except WorkerError as error:
            kind = failure_kind(error)
            if kind != "final":
                self._member_failed(member.configuration, token, kind, error)
                return error
            self._served(chosen, token, started)  # it answered: the error is the call's own
            raise
        self._served(chosen, token, started)
        return answer

    def _member_failed(self, name: str, token: str, kind: str, error: WorkerError) -> None:
        reason = f"{error.error_type} {error.status_code or ''}: {error.message}"[:300]
        if kind == "out":
            self.router.taken_out(name, token, reason)
            log.warning("pool.member_out", pool=self.pool.name, member=name, reason=reason)
            self.observer.pool_member_event(self.pool.name, name, "out")
            return
        cooldown_s = self.router.failed(name, token, reason, error.retry_after_s)
        log.warning(
            "pool.failover",
            pool=self.pool.name,
            member=name,
            reason=reason,
            cooldown_s=round(cooldown_s, 3),
        )
        self.observer.pool_member_event(self.pool.name, name, "cooldown")

    def _served(self, chosen: MemberClient, token: str, started: float) -> None:
        """The member answered: its claim ends healthy, and it is named as the server."""
        name = chosen.member.configuration
        self.router.succeeded(name, token, time.perf_counter() - started)
        with self._lock:
            self.served.append(name)
            self.provider.configuration = chosen.client.configuration
            self.provider.base_url = chosen.client.provider.base_url

    def _by_fallback(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """No member can take the call: the pool's fallback does."""
        assert self.fallback is not None
        fallback = self.fallback()
        answer = fallback.post_json(path, body)
        if isinstance(fallback, PoolClient):
            name = f"{fallback.pool.name}/{fallback.served[-1]}"
        else:
            name = fallback.configuration.name
        with self._lock:
            self.served.append(name)
        return answer

    def _wait_s(
        self, states: list[MemberState], waits: list[float], last_error: WorkerError | None
    ) -> float:
        """How long until a member may take the call; raises when waiting cannot help."""
        if last_error is not None:
            raise last_error  # every member it could go to failed: the job's retry decides
        in_service = [s for s in states if not s.out]
        if not in_service:
            reasons = "; ".join(
                f"{s.configuration}: {self.router.out_reason(s.configuration) or 'out'}"
                for s in states
            )
            raise ConfigurationError(
                f"every member of pool {self.pool.name!r} is out of service ({reasons}); "
                "save a member's configuration again once it is fixed",
            )
        cooling = [s.cooling_s for s in in_service if s.cooling_s > 0]
        return max(min(cooling + waits, default=0.5), 0.1)
