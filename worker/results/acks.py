"""A delivery's acknowledgement, written with the job's final record.

On the Redis broker, a fetched message waits in its consumer's set of unacknowledged
messages until it is acknowledged; a worker that dies leaves it there for another to
take. The final write can acknowledge it in the same atomic step (``put_unless_final``):
the message is acknowledged exactly when the job's record is final, with no round trip
or broker call of its own. The queue layer says where the message waits (``DELIVERY``,
for the thread running it); the runner leaves it unset for a job whose webhook is still
to be queued after the final write, as a crash in between must deliver the message
again for the webhook to be queued then.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class DeliveryAck:
    """Where a delivered message waits for its acknowledgement (Dramatiq's Redis broker
    layout: the consumer's set of unacknowledged ids and the queue's hash of messages),
    and whom to tell once the final write acknowledged it."""

    acks_key: str
    messages_key: str
    message_id: str
    acknowledged: Callable[[str], None]


#: The delivery the current thread is running, when its final write may acknowledge it.
DELIVERY: ContextVar[DeliveryAck | None] = ContextVar("delivery_ack", default=None)
