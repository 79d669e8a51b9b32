"""The Dramatiq actors: one per operation, each a few lines around the runner.

Importing this module declares the broker (before any actor, as Dramatiq binds actors
to the global broker when they are declared). ``openai-worker run`` points Dramatiq's
worker processes here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dramatiq

from worker.broker import build_broker, queue_name
from worker.connections import resolve_redis_url
from worker.logs import configure_logging
from worker.operations import OPERATIONS
from worker.runner import RetryLater
from worker.runtime import get_runtime
from worker.settings import Settings

settings = Settings.from_env()
configure_logging(settings.log_format, settings.log_level)
redis_url = resolve_redis_url(settings)
broker = build_broker(settings, redis_url)
dramatiq.set_broker(broker)

#: Dramatiq's own retry budget only covers failures outside the runner (Redis
#: unreachable while writing a record); the runner applies the job's retry policy and
#: asks for each retry with ``dramatiq.Retry``, which is therefore always honoured.
INFRASTRUCTURE_RETRIES = 10


def _retry_when(retries: int, exception: BaseException) -> bool:
    return isinstance(exception, dramatiq.Retry) or retries < INFRASTRUCTURE_RETRIES


#: A job may run tool loops of several long calls; the per-call timeout still applies.
TIME_LIMIT_MS = 60 * 60 * 1000


def _make_handler(operation: str) -> Callable[[str, Any], None]:
    def handler(job_id: str, payload: Any) -> None:
        runner = get_runtime(settings, redis_url).runner
        decision = runner.run(job_id, operation, payload)
        if isinstance(decision, RetryLater):
            raise dramatiq.Retry(delay=max(1, int(decision.delay_s * 1000)))

    handler.__name__ = operation
    return handler


ACTORS = {
    name: dramatiq.actor(
        actor_name=name,
        queue_name=queue_name(settings),
        retry_when=_retry_when,
        min_backoff=1000,
        max_backoff=5 * 60 * 1000,
        time_limit=TIME_LIMIT_MS,
    )(_make_handler(name))
    for name in OPERATIONS
}
