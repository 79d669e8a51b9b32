"""Waking idle consumers when a job is enqueued, on the Redis broker.

Dramatiq's Redis consumers poll an empty queue, backing off up to the idle poll
(``launch.IDLE_POLL_MS``), so a job submitted to a quiet queue waited up to that long
before a worker saw it. Here the enqueue that makes a queue non-empty also publishes
the queue's name on the namespace's wake channel (``lua/wake.lua``, in the same
MULTI/EXEC as Dramatiq's enqueue: still one round trip), and a consumer whose fetch
came back empty waits on that channel instead of sleeping. It fetches as soon as a job
arrives, and polls exactly as before when none does: no more idle load on Redis, one
subscribed connection per worker process, and nothing published while the queue is
busy. A lost wake-up costs nothing but the old poll delay.

The consumer also acknowledges in batches (one pipeline for the messages finished since
its last pass) instead of a round trip per message: a message is acknowledged only
after its job's final record is written, so a batch lost in a crash means only
redeliveries the runner skips.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import compute_backoff, current_millis, dq_name
from dramatiq.errors import ConnectionClosed

from worker.connections import LuaScript
from worker.keys import broker_list, broker_messages, broker_unacked
from worker.results import BrokerMessage
from worker.results.acks import DELIVERY, DeliveryAck

#: Dramatiq's suffix of delay queues, whose messages wait for a time, not an event.
_DELAYED = dq_name("")
#: Acknowledgements sent in one round trip, at most.
ACK_BATCH = 64


class WakingRedisBroker(RedisBroker):
    """Dramatiq's Redis broker whose enqueue also wakes idle consumers."""

    def __init__(self, *, wake_channel: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self.add_middleware(FlushAcks())
        self.wake_channel = wake_channel
        #: The consumers' longest idle back-off in ms; None: the worker's timeout.
        self.idle_poll_ms: int | None = None
        self._wake = LuaScript(self.client, "wake.lua")
        self._scripts_loaded = False
        #: Ids of messages the job's final write acknowledged (``AckWithRecord``): their
        #: consumer sends no acknowledgement of its own.
        self.acked_with_record: set[str] = set()

    @property
    def consumer_class(self) -> type[_RedisConsumer]:
        return WakingConsumer

    def dispatch_args(self, command: str, queue_name: str, *args: Any) -> list[Any]:
        """What ``RedisBroker._dispatch`` gives Dramatiq's dispatch script for a command
        (tests run real enqueues, fetches and acknowledgements through both)."""
        return [
            command,
            current_millis(),
            queue_name,
            self.broker_id,
            self.heartbeat_timeout,
            self.dead_message_ttl,
            self._should_do_maintenance(command),
            self._max_unpack_size(),  # type: ignore[no-untyped-call]
            *args,
        ]

    def prepared(self, message: dramatiq.Message[Any]) -> BrokerMessage:
        """``message`` as ``enqueue`` would write it (its own Redis message id), for the
        result store to queue in the same step as the job's record (``submit.lua``)."""
        queue = broker_list(self.namespace, message.queue_name)
        message_id = str(uuid.uuid4())
        # Consumers read the id back from the message's options to acknowledge it.
        message = message.copy(options={"redis_message_id": message_id})
        return BrokerMessage(
            queue=queue,
            messages=broker_messages(self.namespace, message.queue_name),
            message_id=message_id,
            data=message.encode(),
            wake_channel=self.wake_channel,
            queue_name=message.queue_name,
        )

    def do_enqueue(self, queue_name: str, message_id: str, data: bytes) -> None:
        """Dramatiq's enqueue command, and the wake-up, in one MULTI/EXEC."""
        dispatch = self.scripts["dispatch"]
        if not self._scripts_loaded:
            # Once per process: a transaction cannot load a script Redis lacks, and a
            # first enqueue must wake consumers like any other.
            self._load_scripts()
        args = self.dispatch_args("enqueue", queue_name, message_id, data)
        wakes = not queue_name.endswith(_DELAYED)
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=True)
            pipe.evalsha(dispatch.sha, 1, self.namespace, *args)
            if wakes:
                queue_key = broker_list(self.namespace, queue_name)
                pipe.evalsha(self._wake.sha, 1, queue_key, self.wake_channel, queue_name)
            # Each command's own outcome: a script Redis does not hold fails alone.
            enqueued, *woken = pipe.execute(raise_on_error=False)
            if isinstance(enqueued, redis.exceptions.NoScriptError) and attempt == 1:
                self._load_scripts()  # a Redis restarted since: nothing was enqueued
                continue
            if isinstance(enqueued, Exception):
                raise enqueued
            if woken and isinstance(woken[0], redis.exceptions.NoScriptError):
                # Enqueued, but no wake-up (a Redis that lost its scripts): idle consumers
                # find the job at their next poll. Load the script for the next enqueue.
                self._load_scripts()
            return

    def _load_scripts(self) -> None:
        dispatch = self.scripts["dispatch"]
        dispatch.sha = self.client.script_load(dispatch.script)
        self._wake.load()
        self._scripts_loaded = True


class AckWithRecord(dramatiq.Middleware):
    """Let a job's final write acknowledge its message (``results.acks``), when jobs
    travel on the results' own Redis: the message is acknowledged in the same atomic
    step as the record becomes final, and the consumer sends nothing for it."""

    def __init__(self, job_actors: frozenset[str]) -> None:
        self.job_actors = job_actors

    def before_process_message(self, broker: Any, message: Any) -> None:
        # A WakingRedisBroker: ``queue.broker.build_broker`` adds this to no other.
        if message.actor_name not in self.job_actors:
            DELIVERY.set(None)
            return
        queue = message.queue_name
        DELIVERY.set(
            DeliveryAck(
                acks_key=broker_unacked(broker.namespace, broker.broker_id, queue),
                messages_key=broker_messages(broker.namespace, queue),
                message_id=message.options["redis_message_id"],
                acknowledged=broker.acked_with_record.add,
            )
        )

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        DELIVERY.set(None)

    def after_skip_message(self, broker: Any, message: Any) -> None:
        DELIVERY.set(None)


class FlushAcks(dramatiq.Middleware):
    """Send a consumer's waiting acknowledgements when its thread shuts down (Dramatiq
    stops its consumer threads without closing their consumers)."""

    def before_consumer_thread_shutdown(self, broker: Any, thread: Any) -> None:
        consumer = getattr(thread, "consumer", None)
        if isinstance(consumer, WakingConsumer):
            with contextlib.suppress(redis.RedisError, ConnectionClosed):
                consumer.flush_acks()


class WakingConsumer(_RedisConsumer):
    """A consumer that, when its fetch comes back empty, waits for a wake-up instead of
    sleeping.

    The base consumer is given no idle timeout, so it never sleeps; the back-off (up to
    the worker's idle timeout) is this consumer's. It listens on the wake channel only
    when the queue was empty; with its prefetch full it waits until a message is done
    with (acknowledged or rejected), then fetches at once, not after its back-off: a
    process prefetches no more messages than it has threads (``threads.WorkerThreads``),
    so a thread that ends a job must not wait a back-off for the next. Delay-queue
    consumers are never woken by the wake channel.
    """

    def __init__(self, broker: WakingRedisBroker, queue_name: str, prefetch: int, timeout: int):
        super().__init__(broker, queue_name, prefetch, 0)  # type: ignore[no-untyped-call]
        self.idle_ms = timeout if broker.idle_poll_ms is None else broker.idle_poll_ms
        self.idle_misses = 0
        self.wake_channel = broker.wake_channel
        self.wakes = not queue_name.endswith(_DELAYED)
        self.pubsub: Any = None
        self._acks: list[str] = []
        self._acks_lock = threading.Lock()
        #: Set when a message is done with: its prefetch has room for another.
        self._room = threading.Event()

    def ack(self, message: Any) -> None:
        """Acknowledge in batches, a round trip for up to ``ACK_BATCH`` messages.

        Called by a worker thread once the job's record is final in Redis. Until the
        batch goes out, a crash would deliver the message again, and the runner would
        find its record final and skip it: nothing runs or is paid for twice.
        """
        message_id = message.options["redis_message_id"]
        self.queued_message_ids.discard(message.message_id)
        self._room.set()
        if message_id in self.broker.acked_with_record:
            self.broker.acked_with_record.discard(message_id)  # by the job's final write
            return
        with self._acks_lock:
            self._acks.append(message_id)
            full = len(self._acks) >= ACK_BATCH
        if full:
            self.flush_acks()

    def nack(self, message: Any) -> None:
        self.broker.acked_with_record.discard(message.options["redis_message_id"])
        super().nack(message)  # type: ignore[no-untyped-call]
        self._room.set()

    def flush_acks(self) -> None:
        """Send the acknowledgements waiting, in one pipeline."""
        with self._acks_lock:
            ids, self._acks = self._acks, []
        if not ids:
            return
        broker = self.broker
        pipe = broker.client.pipeline(transaction=False)
        for message_id in ids:
            args = broker.dispatch_args("ack", self.queue_name, message_id)
            pipe.evalsha(broker.scripts["dispatch"].sha, 1, broker.namespace, *args)
        try:
            answers = pipe.execute(raise_on_error=False)
        except redis.ConnectionError as exc:
            with self._acks_lock:
                self._acks[:0] = ids  # sent again with the next batch
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]
        for message_id, answer in zip(ids, answers, strict=True):
            if isinstance(answer, Exception):  # e.g. a Redis that lost its scripts
                broker.do_ack(self.queue_name, message_id)

    def __next__(self) -> Any:
        # The consumer thread passes here at least once per idle poll: no
        # acknowledgement waits longer than that.
        self.flush_acks()
        self._room.clear()  # before the base looks at its prefetch: no room is missed
        message = super().__next__()  # type: ignore[no-untyped-call]
        if message is None:
            self._idle()
        else:
            self.idle_misses = 0
        return message

    def _idle(self) -> None:
        self.idle_misses, backoff_ms = compute_backoff(self.idle_misses, max_backoff=self.idle_ms)
        # The base fetched (and found nothing) only if it had room for more messages.
        fetched_nothing = self.outstanding_message_count < self.prefetch
        if not fetched_nothing:
            # Its prefetch is full: fetch again as soon as a message is done with.
            if self._room.wait(backoff_ms / 1000):
                self.idle_misses = 0
            return
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
                    pass  # several wake-ups at once: one fetch serves them all
        except redis.RedisError:
            self.close()
            time.sleep(backoff_ms / 1000)

    def close(self) -> None:
        with contextlib.suppress(redis.RedisError, ConnectionClosed):
            self.flush_acks()
        if self.pubsub is not None:
            with contextlib.suppress(redis.RedisError):  # a broken connection
                self.pubsub.close()
            self.pubsub = None
