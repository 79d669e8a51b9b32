"""The provider client of a job: one configuration's, or a pool's routing its members.

A pool's members and fallback are configurations or, for the fallback, another pool
(followed at most ``MAX_FALLBACK_DEPTH`` deep, each pool once: a fallback chain cannot
loop). Members' clients are built when the job starts; a fallback only when a call
needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from worker.configurations import Configuration, ConfigurationStore
from worker.configurations.pool import Pool
from worker.engine.pool_client import AdmittedLimiter, MemberClient, PoolClient
from worker.errors import ConfigurationError
from worker.observer import JobObserver
from worker.pools import PoolRouter
from worker.providers import ProviderClient, provider_for
from worker.ratelimit import Limiter
from worker.transport import HttpClient

#: How many pools a chain of fallbacks may pass through.
MAX_FALLBACK_DEPTH = 4


@dataclass
class ClientFactory:
    """Builds the client of a configuration or a pool, for one job."""

    configurations: ConfigurationStore
    http: HttpClient
    limiter_for: Callable[[Configuration], Limiter]
    #: Pool routing (None: a worker without Redis state; pools are refused).
    router: PoolRouter | None = None

    def single(
        self,
        configuration: Configuration,
        timeout_s: float,
        observer: JobObserver,
        limiter: Limiter | None = None,
    ) -> ProviderClient:
        """One configuration's client, under its own limits unless ``limiter`` is given."""
        return ProviderClient(
            provider_for(configuration),
            self.http,
            observer,
            self.limiter_for(configuration) if limiter is None else limiter,
            timeout_s=timeout_s,
        )

    def for_target(
        self,
        target: Configuration | Pool,
        timeout_s: float,
        observer: JobObserver,
        seen: tuple[str, ...] = (),
    ) -> ProviderClient:
        if isinstance(target, Configuration):
            return self.single(target, timeout_s, observer)
        return self.pool(target, timeout_s, observer, seen)

    def pool(
        self, pool: Pool, timeout_s: float, observer: JobObserver, seen: tuple[str, ...] = ()
    ) -> PoolClient:
        if self.router is None:
            raise ConfigurationError(f"{pool.name!r} is a pool, and this worker routes no pools")
        if pool.name in seen or len(seen) >= MAX_FALLBACK_DEPTH:
            chain = " → ".join((*seen, pool.name))
            raise ConfigurationError(f"the pools' fallbacks go round or too deep: {chain}")
        members = []
        for member in pool.members:
            configuration = self.configurations.load(member.configuration)
            limiter = self.limiter_for(configuration)
            # The pool asks the member's limits before each call; its client only counts.
            client = self.single(configuration, timeout_s, observer, AdmittedLimiter(limiter))
            members.append(MemberClient(member, client, limiter))
        fallback = None
        if pool.fallback is not None:
            name, passed = pool.fallback, (*seen, pool.name)

            def fallback_client() -> ProviderClient:
                target = self.configurations.resolve(name)
                return self.for_target(target, timeout_s, observer, passed)

            fallback = fallback_client
        return PoolClient(
            pool,
            members,
            self.router,
            self.http,
            observer=observer,
            fallback=fallback,
            timeout_s=timeout_s,
        )
