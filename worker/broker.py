"""Building the Dramatiq broker: Redis, namespaced, with our middleware.

Only this module and ``actors`` import Dramatiq. ``build_broker`` does not touch the
global broker, so a producer can hold one to enqueue without declaring any actor.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from worker.middleware import JobLogContext
from worker.settings import Settings

#: The one queue every operation's actor consumes.
QUEUE_NAME = "jobs"
#: Out of a million broker commands, how many also run queue maintenance, which is
#: when the unacknowledged messages of a worker whose heartbeat stopped are delivered
#: again. Dramatiq's default (1,000) can leave a dead worker's jobs waiting minutes;
#: an idle worker issues a few commands a second, so this finds them within seconds
#: of the heartbeat timeout. Maintenance is a few cheap sorted-set reads.
MAINTENANCE_CHANCE = 100_000


def build_broker(settings: Settings, url: str) -> RedisBroker:
    """A Redis broker for ``url`` whose keys all live under the settings' namespace."""
    broker = RedisBroker(  # type: ignore[no-untyped-call]
        url=url,
        namespace=f"{settings.namespace}:dramatiq",
        heartbeat_timeout=int(settings.heartbeat_timeout_s * 1000),
        maintenance_chance=MAINTENANCE_CHANCE,
    )
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(JobLogContext())
    return broker


def job_message(operation: str, job_id: str, payload: dict[str, Any]) -> dramatiq.Message[Any]:
    """The message a job travels in: the job id and its payload."""
    return dramatiq.Message(
        queue_name=QUEUE_NAME,
        actor_name=operation,
        args=(job_id, payload),
        kwargs={},
        options={},
    )
