"""Waking idle consumers when a job is enqueued, on the Redis broker.

Dramatiq's Redis consumers poll an empty queue, backing off up to the idle poll
(``launch.IDLE_POLL_MS``), so a job submitted to a quiet queue waited up to that long
before a worker saw it. Here every enqueue also publishes the queue's name on the
namespace's wake channel, and an idle consumer waits on that channel instead of
sleeping: it fetches as soon as a job arrives, and polls exactly as before when none
does (no more idle load on Redis than polling alone; one subscribed connection per
worker process). A lost wake-up costs nothing but the old poll delay.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import redis
import structlog
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import compute_backoff, dq_name

log = structlog.get_logger(__name__)


class WakingRedisBroker(RedisBroker):
    """Dramatiq's Redis broker, publishing on ``wake_channel`` after each enqueue."""

    def __init__(self, *, wake_channel: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self.wake_channel = wake_channel

    @property
    def consumer_class(self) -> type[_RedisConsumer]:
        return WakingConsumer

    def enqueue(self, message: Any, *, delay: int | None = None) -> Any:
        enqueued = super().enqueue(message, delay=delay)
        if delay is None:  # a delayed message wakes nobody until it is due
            try:
                self.client.publish(self.wake_channel, enqueued.queue_name)
            except redis.RedisError as exc:
                # The job is queued; idle consumers will find it at their next poll.
                log.warning("queue.wake_failed", error=str(exc))
        return enqueued


class WakingConsumer(_RedisConsumer):
    """A consumer that, with nothing to fetch, waits for a wake-up instead of sleeping.

    The base consumer is given no idle timeout, so it never sleeps; the back-off (up to
    the worker's idle timeout) is this consumer's, spent listening on the wake channel.
    Delay-queue consumers are not woken (their messages wait for a time, not an event).
    """

    def __init__(self, broker: WakingRedisBroker, queue_name: str, prefetch: int, timeout: int):
        super().__init__(broker, queue_name, prefetch, 0)  # type: ignore[no-untyped-call]
        self.idle_ms = timeout
        self.idle_misses = 0
        self.wake_channel = broker.wake_channel
        self.wakes = not queue_name.endswith(dq_name(""))
        self.pubsub: Any = None

    def __next__(self) -> Any:
        message = super().__next__()  # type: ignore[no-untyped-call]
        if message is None:
            self._idle()
        else:
            self.idle_misses = 0
        return message

    def _idle(self) -> None:
        self.idle_misses, backoff_ms = compute_backoff(self.idle_misses, max_backoff=self.idle_ms)
        if not self.wakes:
            time.sleep(backoff_ms / 1000)
            return
        try:
            if self.pubsub is None:
                self.pubsub = self.broker.client.pubsub(ignore_subscribe_messages=True)
                self.pubsub.subscribe(self.wake_channel)
            if self.pubsub.get_message(timeout=backoff_ms / 1000) is not None:
                self.idle_misses = 0
                while self.pubsub.get_message(timeout=0) is not None:
                    pass  # several jobs arrived: one fetch takes them all
        except redis.RedisError:
            self.close()
            time.sleep(backoff_ms / 1000)

    def close(self) -> None:
        if self.pubsub is not None:
            with contextlib.suppress(redis.RedisError):  # a broken connection
                self.pubsub.close()
            self.pubsub = None
