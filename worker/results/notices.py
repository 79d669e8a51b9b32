"""Hearing that a job ended instead of polling its record.

The store publishes a job's final status on the job's ended channel
(``Keys.job_ended``) in the same atomic step as the write, with the final record itself
unless it is long (``store.NOTICE_RECORD_MAX_CHARS``). A client holds one subscriber
connection for all its waits (``Subscriber``): a wait subscribes to its job's channel
and reads the record each time Redis confirms that subscription (at first, and again
whenever the connection was made anew: what ended meanwhile is in the record). When the
channel says the job ended, the wait returns the record the message carried, or reads
it if the message carried only the status. A job that ended before the wait began is
read at once, one that ends later is known as soon as its message arrives, and nothing
is read in between. While the subscriber cannot reach Redis (or may not
subscribe), waits read with a back-off, as before events existed.

``Subscriber`` runs on ``redis.asyncio`` (the ``AsyncClient``'s loop);
``ThreadedSubscriber`` gives blocking code (``Client.wait``) the same on an event loop
of its own thread.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio
import structlog

from worker.connections import SOCKET_TIMEOUT_S, reply_text
from worker.results.record import FINAL_STATUSES
from worker.results.store import decode_record

Record = dict[str, Any] | None
log = structlog.get_logger("worker.notices")

#: The first pause of a wait that polls (the subscriber lost Redis), growing by half
#: each time up to ``POLL_MAX_S``: the back-off ``Client.wait`` always had.
POLL_FIRST_S = 0.05
POLL_MAX_S = 1.0
#: The subscriber's first and longest pause before it connects again.
RECONNECT_FIRST_S = 0.05
RECONNECT_MAX_S = 2.0


def ended(record: Record) -> bool:
    """Whether a wait is over: the record is final."""
    return record is not None and record["status"] in FINAL_STATUSES


@dataclass(eq=False)
class Watch:
    """One wait's view of its job: whether a read is due, and whether to poll."""

    channel: str
    #: Wakes the waiting code; called from the subscriber's loop.
    wake: Callable[[], None]
    delay_s: float = POLL_FIRST_S
    due: bool = False
    polling: bool = False
    #: What the job's ended message carried beyond the status (the webhook state, a
    #: newline, the final record), until ``heard`` takes it.
    published: str | None = None

    def signal(self, *, polling: bool = False, published: str | None = None) -> None:
        """A read is due: the subscription is confirmed, the job ended (``published``:
        with its record), or (``polling``) the subscriber lost Redis and the wait reads
        with a back-off until it is back."""
        self.polling = polling
        self.due = True
        if published:
            self.published = published
        self.wake()

    def heard(self) -> Record:
        """The final record the job's ended message carried (once), or None: read it."""
        published, self.published = self.published, None
        if published is None:
            return None
        webhook, _, raw = published.partition("\n")
        record, _ = decode_record(raw, webhook or None)
        return record

    def timeout(self, remaining: float) -> float:
        """How long to sleep before looking again: the time left, or a back-off step."""
        if not self.polling:
            return remaining
        step = min(self.delay_s, remaining)
        self.delay_s = min(self.delay_s * 1.5, POLL_MAX_S)
        return step

    def take(self) -> bool:
        """Whether to read the record now (the waking code clears its event first)."""
        due, self.due = self.due, False
        return due or self.polling


class Subscriber:
    """One subscriber connection (``redis.asyncio``) serving every wait of a client."""

    def __init__(self, url: str) -> None:
        # Its own connection, not the client's pool: a subscribed connection only
        # reads, so no health-check PING (which would read the answer itself) and
        # RESP2, whose replies to SUBSCRIBE are plain arrays.
        options: dict[str, Any] = {"protocol": 2, "health_check_interval": 0}
        if not url.startswith("unix:"):
            options["socket_keepalive"] = True  # a silent peer is found out in time
        self._pool = redis.asyncio.ConnectionPool.from_url(
            url, socket_connect_timeout=10, socket_timeout=SOCKET_TIMEOUT_S, **options
        )
        self._connection: Any = None
        self._watches: dict[str, list[Watch]] = {}
        self._confirmed: set[str] = set()
        #: "connecting" (at first), "live" or "lost" (waits poll until it is back).
        self._state = "connecting"
        self._reader: asyncio.Task[None] | None = None

    async def wait(
        self,
        channel: str,
        timeout_s: float,
        read: Callable[[], Awaitable[Record]],
        *,
        poll_s: float = POLL_FIRST_S,
    ) -> Record:
        """``read()`` once it shows a final record, or once more when time runs out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        event = asyncio.Event()
        watch = Watch(channel, event.set, poll_s)
        try:
            await self.watch(watch)
            while (remaining := deadline - loop.time()) > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(watch.timeout(remaining)):
                        await event.wait()
                event.clear()
                if watch.take():
                    record = watch.heard() or await read()
                    if ended(record):
                        return record
            return await read()
        finally:
            await self.unwatch(watch)

    async def watch(self, watch: Watch) -> None:
        """Have ``watch`` signalled for its channel (subscribing unless already)."""
        waiting = self._watches.setdefault(watch.channel, [])
        waiting.append(watch)
        if self._reader is None:
            # It connects and subscribes every channel watched by then.
            self._reader = asyncio.get_running_loop().create_task(self._run())
        elif self._state == "lost":
            watch.signal(polling=True)
        elif len(waiting) > 1:
            if watch.channel in self._confirmed:
                watch.signal()  # subscribed already: what ends from now on is heard
        elif self._state == "live" and self._connection.is_connected:
            # A failed send breaks the connection: the reader makes it anew, with this.
            with contextlib.suppress(redis.RedisError, OSError):
                await self._connection.send_command("SUBSCRIBE", watch.channel, check_health=False)

    async def unwatch(self, watch: Watch) -> None:
        """Stop signalling ``watch``; unsubscribe its channel when no wait is left."""
        waiting = self._watches.get(watch.channel, [])
        if watch not in waiting:
            return
        waiting.remove(watch)
        if waiting:
            return
        del self._watches[watch.channel]
        self._confirmed.discard(watch.channel)
        if self._state == "live" and self._connection.is_connected:
            # Unsent, the channel is left out when the reader subscribes anew.
            with contextlib.suppress(redis.RedisError, OSError):
                await self._connection.send_command(
                    "UNSUBSCRIBE", watch.channel, check_health=False
                )

    async def _run(self) -> None:
        """Connect, subscribe every channel watched, dispatch what Redis says; on any
        failure, have every wait poll and connect again after a pause."""
        pause = RECONNECT_FIRST_S
        while True:
            try:
                if self._connection is None:
                    self._connection = self._pool.make_connection()  # type: ignore[no-untyped-call]
                connection = self._connection
                await connection.connect()
                self._confirmed.clear()
                # Live before the send: a wait that comes while it is sent subscribes alone.
                self._state = "live"
                if self._watches:
                    await connection.send_command("SUBSCRIBE", *self._watches, check_health=False)
                while True:
                    self._heard(await connection.read_response(timeout=math.inf))
                    pause = RECONNECT_FIRST_S  # an answer, not a refusal: Redis is back
            except Exception as exc:  # whatever it is, the waits must not hang on it
                if not isinstance(exc, redis.RedisError | OSError):
                    log.warning("notices.failed", error=type(exc).__name__)
                self._state = "lost"
                self._confirmed.clear()
                for watch in [w for waiting in self._watches.values() for w in waiting]:
                    watch.signal(polling=True)
                if self._connection is not None:
                    with contextlib.suppress(redis.RedisError, OSError):
                        await self._connection.disconnect(nowait=True)
                await asyncio.sleep(pause)
                pause = min(pause * 2, RECONNECT_MAX_S)

    def _heard(self, reply: Any) -> None:
        if not isinstance(reply, list) or len(reply) < 3:
            return
        kind, channel = reply_text(reply[0]), reply_text(reply[1])
        waiting = self._watches.get(channel)
        if not waiting:
            return
        published = None
        if kind == "subscribe":
            self._confirmed.add(channel)
        elif kind == "message":
            status, _, published = reply_text(reply[2]).partition("\n")
            if status not in FINAL_STATUSES:
                return
        else:
            return
        for watch in list(waiting):
            watch.signal(published=published)

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._connection is not None:
            with contextlib.suppress(redis.RedisError, OSError):
                await self._connection.disconnect(nowait=True)
        await self._pool.disconnect()


class ThreadedSubscriber:
    """A ``Subscriber`` for blocking code: its event loop runs in a thread of its own,
    and each wait blocks its caller's thread on an event the loop sets."""

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._subscriber = Subscriber(url)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="openai-worker-notices", daemon=True
        )
        self._thread.start()
        # A client never closed still stops its loop before the interpreter finalizes
        # (a daemon thread frozen mid-task would report its task destroyed, or worse).
        self._closed = False
        atexit.register(self.close)

    def wait(
        self,
        channel: str,
        timeout_s: float,
        read: Callable[[], Record],
        *,
        poll_s: float = POLL_FIRST_S,
    ) -> Record:
        """As ``Subscriber.wait``, with a blocking ``read``."""
        deadline = time.monotonic() + timeout_s
        event = threading.Event()
        watch = Watch(channel, event.set, poll_s)
        asyncio.run_coroutine_threadsafe(self._subscriber.watch(watch), self._loop)
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                event.wait(watch.timeout(remaining))
                event.clear()
                if watch.take():
                    record = watch.heard() or read()
                    if ended(record):
                        return record
            return read()
        finally:
            asyncio.run_coroutine_threadsafe(self._subscriber.unwatch(watch), self._loop)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        closing = asyncio.run_coroutine_threadsafe(self._subscriber.aclose(), self._loop)
        with contextlib.suppress(Exception):
            closing.result(timeout=SOCKET_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=SOCKET_TIMEOUT_S)
        self._loop.close()
