"""Where a pool's calls go: member state shared by every worker through Redis.

Per member configuration (the same whichever pool names it): a cooldown after a 429,
5xx, timeout or dropped connection (the provider's ``Retry-After``, else doubling from
a base with each consecutive failure), a probe that lets one call at a time find out
whether a cooled-down member serves again, an out-of-service mark for answers waiting
cannot cure (401, 403, a missing deployment, no quota) that lasts until the
configuration is saved again, the calls in flight, and a moving average of latency.
Strategies order the members that can take a call; the client claims the first that
does, atomically, so every worker sees the same state.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis

from worker.configurations.pool import Member, Pool
from worker.connections import LuaScript, reply_text
from worker.keys import MEMBER_HEALTH, MEMBER_PARTS, Keys

#: The parts of a member's state, in the order the claim and done scripts take them.
_CLAIM_PARTS = (*MEMBER_HEALTH, "busy")
_DONE_PARTS = MEMBER_PARTS


@dataclass(frozen=True)
class RouterSettings:
    """Cooldowns: the first one, and the longest (a provider's ``Retry-After`` included)."""

    cooldown_base_s: float = 5.0
    cooldown_max_s: float = 300.0


@dataclass(frozen=True)
class MemberState:
    """What routing knows of one member now."""

    configuration: str
    cooling_s: float
    fails: int
    out: bool
    busy: int
    #: Milliseconds, a moving average of its answered calls (None: none yet).
    latency_ms: float | None

    @property
    def available(self) -> bool:
        return not self.out and self.cooling_s <= 0


@dataclass
class PoolRouter:
    """Reads, claims and releases pool members in Redis."""

    client: redis.Redis
    keys: Keys
    settings: RouterSettings = field(default_factory=RouterSettings)
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._state = LuaScript(self.client, "pool_state.lua")
        self._claim = LuaScript(self.client, "pool_claim.lua")
        self._done = LuaScript(self.client, "pool_done.lua")

    def states(self, configurations: Sequence[str]) -> list[MemberState]:
        """Every member's state, in one round trip."""
        rows = self._state(keys=[], args=[self.keys.member_prefix, *configurations])
        return [
            MemberState(
                configuration=name,
                cooling_s=int(cooling) / 1000,
                fails=int(fails),
                out=bool(int(out)),
                busy=int(busy),
                latency_ms=None if int(latency) < 0 else float(latency),
            )
            for name, (cooling, fails, out, busy, latency) in zip(configurations, rows, strict=True)
        ]

    def order(self, pool: Pool, states: Sequence[MemberState]) -> list[Member]:
        """The available members in the order the pool's strategy prefers them."""
        by_name = {state.configuration: state for state in states}
        members = [m for m in pool.members if by_name[m.configuration].available]
        if pool.strategy == "least-busy":
            self.rng.shuffle(members)  # ties go to any of them
            return sorted(members, key=lambda m: by_name[m.configuration].busy / m.weight)
        if pool.strategy == "lowest-latency":
            self.rng.shuffle(members)
            # A member never measured goes first: how else would it be measured?
            return sorted(members, key=lambda m: by_name[m.configuration].latency_ms or 0.0)
        return self._weighted_order(members)

    def _weighted_order(self, members: list[Member]) -> list[Member]:
        """A weighted random order: each place drawn by weight among those left."""
        left, ordered = list(members), []
        while left:
            pick = self.rng.uniform(0, sum(m.weight for m in left))
            for index, member in enumerate(left):
                pick -= member.weight
                if pick <= 0 or index == len(left) - 1:
                    ordered.append(left.pop(index))
                    break
        return ordered

    def claim(self, configuration: str, timeout_s: float) -> str | None:
        """A token for a call to ``configuration``, or None if it cannot take one now."""
        token = uuid.uuid4().hex
        timeout_ms = max(int(timeout_s * 1000), 1000)
        claimed = self._claim(
            keys=[self.keys.member(configuration, part) for part in _CLAIM_PARTS],
            args=[token, timeout_ms, timeout_ms],
        )
        return token if int(claimed) else None

    def succeeded(self, configuration: str, token: str, duration_s: float) -> None:
        self._finish(configuration, token, "ok", duration_s)

    def failed(
        self, configuration: str, token: str, reason: str, retry_after_s: float | None
    ) -> float:
        """Cool the member down; returns for how long (seconds)."""
        cooldown_ms = self._finish(configuration, token, "failed", 0.0, reason, retry_after_s)
        return cooldown_ms / 1000

    def taken_out(self, configuration: str, token: str, reason: str) -> None:
        self._finish(configuration, token, "out", 0.0, reason)

    def _finish(
        self,
        configuration: str,
        token: str,
        outcome: str,
        duration_s: float,
        reason: str = "",
        retry_after_s: float | None = None,
    ) -> int:
        answer = self._done(
            keys=[self.keys.member(configuration, part) for part in _DONE_PARTS],
            args=[
                token,
                outcome,
                round(duration_s * 1000, 3),
                int(self.settings.cooldown_base_s * 1000),
                int(self.settings.cooldown_max_s * 1000),
                int(min(retry_after_s or 0.0, self.settings.cooldown_max_s) * 1000),
                reason[:500],
            ],
        )
        return int(answer)

    def out_reason(self, configuration: str) -> str | None:
        """Why a member is out of service, or None when it is not."""
        reason = self.client.hget(self.keys.member(configuration, "out"), "reason")
        return None if reason is None else reply_text(reason)
