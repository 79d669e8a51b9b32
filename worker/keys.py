"""Every Redis key name the worker reads or writes, Dramatiq's included, in one place.

A deployment's keys all start with its namespace (``OPENAI_WORKER_NAMESPACE``), so
several deployments can share one Redis and a test can delete exactly its own keys.
Stores receive a ``Keys`` and never build a name themselves; ``tests/test_keys.py``
checks that no module outside this one spells a key.

Dramatiq's Redis broker keeps a queue ``Q`` as a list ``{ns}:dramatiq:Q``, its delayed
messages under ``Q.DQ`` and its dead letters as a sorted set ``Q.XQ`` with their bodies
in the hash ``Q.XQ.msgs`` (``dramatiq.common.dq_name``/``xq_name`` and the broker's
``dispatch.lua``); a test checks these names against the installed Dramatiq.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The one queue every operation's actor consumes.
QUEUE_NAME = "jobs"
#: Dramatiq's suffixes of a queue's delayed and dead-letter queues.
DELAYED_SUFFIX = ".DQ"
DEAD_LETTER_SUFFIX = ".XQ"


def delayed_queue(queue: str) -> str:
    """The name of ``queue``'s delayed queue, on either broker."""
    return queue + DELAYED_SUFFIX


def dead_letter_queue(queue: str) -> str:
    """The name of ``queue``'s dead-letter queue, on either broker."""
    return queue + DEAD_LETTER_SUFFIX


def broker_list(dramatiq_namespace: str, queue: str) -> str:
    """The Redis broker's list of ready messages of ``queue`` under its namespace."""
    return f"{dramatiq_namespace}:{queue}"


def broker_messages(dramatiq_namespace: str, queue: str) -> str:
    """The Redis broker's hash of ``queue``'s messages, by message id."""
    return f"{broker_list(dramatiq_namespace, queue)}.msgs"


def broker_unacked(dramatiq_namespace: str, broker_id: str, queue: str) -> str:
    """The Redis broker's set of ``queue``'s messages fetched by the worker process
    ``broker_id`` and not acknowledged yet."""
    return f"{dramatiq_namespace}:__acks__.{broker_id}.{queue}"


#: A pool member's health (``worker.pools.router``): its cooldown, failures in a row,
#: probe and out-of-service mark; saving its configuration again clears them.
MEMBER_HEALTH = ("cool", "fails", "probe", "out")
#: Every part of a pool member's routing state: its health, calls in flight, latency.
MEMBER_PARTS = (*MEMBER_HEALTH, "busy", "latency")


@dataclass(frozen=True)
class Keys:
    """The key names of one namespace."""

    namespace: str

    def _key(self, *parts: str) -> str:
        return ":".join((self.namespace, *parts))

    # --- result records ---------------------------------------------------------------

    def job(self, job_id: str) -> str:
        """The hash holding a job's record (``record``, ``status``, ``parts``, ``summary``
        fields) and its webhook's delivery state (``webhook``)."""
        return self._key("job", job_id)

    @property
    def jobs_pattern(self) -> str:
        """A ``SCAN`` pattern matching every job record of the namespace."""
        return self._key("job", "*")

    def payload(self, job_id: str) -> str:
        """The string holding a job's operation and payload, for ``retry``."""
        return self._key("payload", job_id)

    def idempotency(self, key: str) -> str:
        """The string binding a producer's idempotency key to the first job id."""
        return self._key("idempotency", key)

    @property
    def recent(self) -> str:
        """The sorted set of job ids by submission time: the newest-first index."""
        return self._key("recent")

    @property
    def failed(self) -> str:
        """The sorted set of failed job ids, scored by when they failed."""
        return self._key("failed")

    @property
    def events(self) -> str:
        """The stream of every job's status changes (``job``, ``status``, ``operation``,
        ``configuration`` per entry), capped at about ``OPENAI_WORKER_EVENTS_MAXLEN``."""
        return self._key("events")

    def job_ended(self, job_id: str) -> str:
        """The pub/sub channel a job's final status is published on (its status the
        message), for the waits of ``Client.wait`` and ``AsyncClient.wait``."""
        return self._key("ended", job_id)

    def output_part(self, job_id: str, write_id: str, n: int) -> str:
        """Part ``n`` of a large output, written by one write of the record."""
        return self._key("output", job_id, write_id, str(n))

    # --- what workers keep while running -----------------------------------------------

    def ledger(self, job_id: str) -> str:
        """The hash of a job's call ledger: answered provider calls by call key."""
        return self._key("ledger", job_id)

    # --- the batch tier -----------------------------------------------------------------

    def batch_open(self, route: str) -> str:
        """The id of the group now taking requests for one route (configuration,
        endpoint and model, hashed: a route's parts may hold any character)."""
        return self._key("batch", "open", route)

    def batch_group(self, group_id: str) -> str:
        """The hash of one group: route, state, counts, provider file and batch ids."""
        return self._key("batch", "group", group_id)

    def batch_lines(self, group_id: str) -> str:
        """The list of a group's request lines (its batch file, line by line)."""
        return self._key("batch", "lines", group_id)

    def batch_jobs(self, group_id: str) -> str:
        """The list of a group's job ids, each once."""
        return self._key("batch", "jobs", group_id)

    def batch_member(self, job_id: str) -> str:
        """The group a job's requests went into (set once: a redelivery adds none)."""
        return self._key("batch", "member", job_id)

    @property
    def batch_prefix(self) -> str:
        """What the batch tier's Lua puts before ``group:G``, ``lines:G`` and ``jobs:G``."""
        return self._key("batch", "")

    @property
    def batch_groups(self) -> str:
        """Every group by creation time (a sorted set), for operators."""
        return self._key("batch", "groups")

    def stats_minute(self, minute_start: int) -> str:
        """The hash of one minute's figures (``worker.monitoring.buckets``)."""
        return self._key("stats", str(minute_start))

    @property
    def member_prefix(self) -> str:
        """What the pools' Lua puts before a member configuration's name and ``:cool``,
        ``:fails``, ``:probe``, ``:out``, ``:busy`` or ``:latency``."""
        return self._key("member", "")

    def member(self, configuration: str, part: str) -> str:
        """One part of a pool member's routing state (see ``member_prefix``)."""
        return f"{self.member_prefix}{configuration}:{part}"

    def rate_limit(self, configuration: str, kind: str) -> str:
        """The hash of a configuration's ``requests`` or ``tokens`` counts per tenth second."""
        return self._key("ratelimit", configuration, kind)

    @property
    def configurations(self) -> str:
        """The hash of stored configurations, a field per name."""
        return self._key("configurations")

    @property
    def api_tokens(self) -> str:
        """The hash of the HTTP API's bearer tokens: a field per name, only a digest each."""
        return self._key("api-tokens")

    @property
    def workers(self) -> str:
        """The sorted set of worker processes, scored by their last heartbeat."""
        return self._key("workers")

    @property
    def wake_channel(self) -> str:
        """The pub/sub channel an enqueue publishes on, waking idle consumers."""
        return self._key("wake")

    # --- Dramatiq's broker layout ------------------------------------------------------

    @property
    def dramatiq_namespace(self) -> str:
        """The prefix the Redis broker puts before every key of its own."""
        return self._key("dramatiq")

    def broker_queue(self, *, rabbitmq: bool) -> str:
        """The jobs queue's name: RabbitMQ has no key namespace, so the name carries it."""
        return f"{self.namespace}.{QUEUE_NAME}" if rabbitmq else QUEUE_NAME

    @property
    def queue(self) -> str:
        """The Redis broker's list of ready messages."""
        return broker_list(self.dramatiq_namespace, QUEUE_NAME)

    @property
    def delayed_queue(self) -> str:
        """The Redis broker's list of messages waiting for their delay."""
        return delayed_queue(self.queue)

    @property
    def dead_letters(self) -> str:
        """The Redis broker's sorted set of dead-lettered message ids."""
        return dead_letter_queue(self.queue)

    @property
    def dead_letter_messages(self) -> str:
        """The Redis broker's hash of dead-lettered message bodies, by id."""
        return f"{self.dead_letters}.msgs"
