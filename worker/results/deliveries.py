"""What became of a job's webhook: its delivery state, kept beside the job's record.

The state is the record hash's ``webhook`` field (JSON), so it expires with the record,
and ``Client.result`` shows it as the record's ``webhook``::

    {"id": "msg_…", "status": "pending | delivering | retrying | delivered | gone | failed",
     "attempts": 2, "first_attempt_at": "…Z", "last_attempt_at": "…Z",
     "next_attempt_at": "…Z", "delivered_at": "…Z", "last_status_code": 503,
     "last_error": "…"}

Every change is one Lua step (``webhook_begin.lua``, ``webhook_note.lua``) that touches
only the state of the webhook id it names: a job an operator retried ends with a new id,
and a late attempt at the old one changes nothing of the new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from worker.connections import LuaScript, reply_text
from worker.keys import Keys
from worker.results.store import WEBHOOK_FIELD

#: Every state a webhook can be in, in the order it may pass through them.
WEBHOOK_STATUSES = ("pending", "delivering", "retrying", "delivered", "gone", "failed")
#: A webhook in one of these states is never attempted again.
ENDED = frozenset({"delivered", "gone", "failed"})


@dataclass(frozen=True)
class Attempt:
    """What ``begin`` found: ``begun`` (an attempt to make now), ``ended`` (delivered or
    given up already) or ``stale`` (the job's final record is gone, or is another
    webhook's: the job was retried since)."""

    outcome: str
    #: Attempts so far, this one included.
    number: int = 0
    first_attempt_at: str = ""


class Deliveries:
    """The delivery state of jobs' webhooks, in their record hashes (``Keys.job``)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._begin = LuaScript(client, "webhook_begin.lua")
        self._note = LuaScript(client, "webhook_note.lua")

    def state(self, job_id: str) -> dict[str, Any] | None:
        """The job's webhook state, if it has one."""
        raw = self.client.hget(self.keys.job(job_id), WEBHOOK_FIELD)
        if raw is None:
            return None
        state: dict[str, Any] = json.loads(raw)
        return state

    def queued(self, job_id: str, webhook_id: str, **fields: Any) -> bool:
        """Start the state of a webhook just queued (``pending``), unless it has one."""
        found = self._note(
            keys=[self.keys.job(job_id)],
            args=[webhook_id, json.dumps({"status": "pending", **fields}), "queued"],
        )
        return bool(found)

    def begin(self, job_id: str, webhook_id: str, now: str) -> Attempt:
        """Count an attempt (``delivering``) at the webhook of the job's final record, in
        one step with checking that ``webhook_id`` is still that webhook."""
        found = self._begin(keys=[self.keys.job(job_id)], args=[webhook_id, now])
        if int(found[0]) < 0:
            return Attempt("stale")
        state = json.loads(reply_text(found[1]))
        first = str(state.get("first_attempt_at") or now)
        outcome = "begun" if int(found[0]) else "ended"
        return Attempt(outcome, int(state.get("attempts") or 0), first)

    def note(self, job_id: str, webhook_id: str, **fields: Any) -> bool:
        """Set fields of this webhook's state (None removes one); False if it has none."""
        found = self._note(
            keys=[self.keys.job(job_id)], args=[webhook_id, json.dumps(fields), "update"]
        )
        return bool(found)
