"""A worker process's services: what it builds once and shares among its threads.

One Redis client, one pooled HTTP session, the stores and the job runner, created on
first use in each process (after Dramatiq has started it), as arq's ``ctx`` does. The
runner (``runner``) runs each delivery with them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import redis

from worker.batches import BatchGroups
from worker.configurations import (
    Configuration,
    ConfigurationStore,
    KeyRing,
    RedisBackend,
    SecretKeyError,
)
from worker.connections import redis_client, resolve_redis_url
from worker.engine.batch_steps import BatchSteps
from worker.engine.batch_tier import BatchAdmission, Scheduler
from worker.engine.runner import JobRunner
from worker.functions import load_function_modules, registry
from worker.keys import Keys
from worker.ledger import Ledgers, RedisLedgerBackend
from worker.monitoring.buckets import MinuteBuckets
from worker.monitoring.metrics import worker_observer
from worker.observer import FanOut, JobObserver
from worker.pools import PoolRouter, RouterSettings
from worker.ratelimit import Limiter, NoLimit, RedisRateLimiter
from worker.results import RedisResultStore
from worker.settings import Settings
from worker.transport import HttpClient
from worker.transport.replay import ReplayHttpClient

#: How long a worker process reuses a configuration it loaded (changes arrive this late).
CONFIGURATION_CACHE_S = 5.0
#: Redis connections a worker process keeps at most, shared by all its threads; a thread
#: holds one only for a command's round trip (see ``connections.redis_client``).
REDIS_POOL_SIZE = 64
#: The worker threads a process is sized for until Dramatiq says how many it starts.
DEFAULT_THREADS = 8


@dataclass
class ProcessServices:
    """The per-process shared objects."""

    settings: Settings
    redis: redis.Redis
    runner: JobRunner
    #: The batch tier's group lifecycle (None without a scheduler: producers' processes).
    batch_steps: BatchSteps | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        url: str | None = None,
        *,
        threads: int = DEFAULT_THREADS,
        scheduler: Scheduler | None = None,
    ) -> ProcessServices:
        """The services of a process running ``threads`` worker threads; with a
        ``scheduler`` (the queue's), the batch tier too."""
        client = redis_client(url or resolve_redis_url(settings), max_connections=REDIS_POOL_SIZE)
        keys = Keys(settings.namespace)
        try:
            keyring: KeyRing | None = KeyRing(settings.secret_keys)
        except SecretKeyError:
            keyring = None  # each job then fails with the clear configuration error
        load_function_modules(settings.function_modules)
        results = RedisResultStore(
            client, keys, settings.result_ttl_s, events_maxlen=settings.events_maxlen
        )
        configurations = ConfigurationStore(
            RedisBackend(client, keys), keyring, cache_s=CONFIGURATION_CACHE_S
        )
        http = _http_client(settings, threads)
        ledgers = RedisLedgerBackend(client, keys, settings.result_ttl_s)
        # Every worker adds to the per-minute buckets the dashboard charts; Prometheus
        # counters only where metrics are served.
        buckets = MinuteBuckets(client, keys)
        observer: JobObserver = (
            FanOut(buckets, worker_observer(settings))
            if settings.metrics_port is not None
            else buckets
        )
        admission, steps = None, None
        if scheduler is not None:
            groups = BatchGroups(client, keys, settings.result_ttl_s)
            admission = BatchAdmission(
                settings=settings,
                groups=groups,
                http=http,
                functions=registry,
                scheduler=scheduler,
            )
            steps = BatchSteps(
                settings=settings,
                groups=groups,
                results=results,
                configurations=configurations,
                ledgers=ledgers,
                http=http,
                scheduler=scheduler,
                observer=observer,
            )
        runner = JobRunner(
            settings=settings,
            results=results,
            configurations=configurations,
            http=http,
            functions=registry,
            limiter_for=lambda configuration: limiter_for(client, settings, configuration),
            ledgers=Ledgers(ledgers),
            observer=observer,
            batch=admission,
            router=PoolRouter(
                client,
                keys,
                RouterSettings(settings.pool_cooldown_s, settings.pool_cooldown_max_s),
            ),
        )
        return cls(settings, client, runner, steps)


def limiter_for(client: redis.Redis, settings: Settings, configuration: Configuration) -> Limiter:
    """The shared rate limiter of a configuration that sets limits."""
    if not (configuration.requests_per_minute or configuration.tokens_per_minute):
        return NoLimit()
    return RedisRateLimiter(
        client,
        Keys(settings.namespace),
        configuration.name,
        requests_per_minute=configuration.requests_per_minute,
        tokens_per_minute=configuration.tokens_per_minute,
        window_s=settings.rate_limit_window_s,
    )


def _http_client(settings: Settings, threads: int) -> HttpClient:
    """The pooled client (a connection kept per thread), or the offline replay of
    cassettes when one is configured."""
    timeouts = {"timeout_s": settings.timeout_s, "connect_timeout_s": settings.connect_timeout_s}
    if settings.replay_dir is not None:
        return ReplayHttpClient(settings.replay_dir, **timeouts)
    return HttpClient(**timeouts, pool_size=threads)


_services: ProcessServices | None = None
_threads = DEFAULT_THREADS
_lock = threading.Lock()


def expect_threads(count: int) -> None:
    """Size this process's services for ``count`` worker threads.

    Called by the worker's boot middleware with the thread count Dramatiq starts, before
    the first job builds the services.
    """
    global _threads
    _threads = count


def services_for_process(
    settings: Settings, url: str, scheduler: Scheduler | None = None
) -> ProcessServices:
    """This process's services, built on first use."""
    global _services
    if _services is None:
        with _lock:
            if _services is None:
                _services = ProcessServices.build(
                    settings, url, threads=_threads, scheduler=scheduler
                )
    return _services
