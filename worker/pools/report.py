"""What operators see of pools (``health``, the dashboard): each member's state now."""

from __future__ import annotations

import json
from typing import Any

import redis

from worker.connections import reply_text
from worker.keys import Keys
from worker.pools.router import PoolRouter


def pool_report(client: redis.Redis, keys: Keys) -> list[dict[str, Any]]:
    """Every pool with its members' state, from the listing copies (no secret key needed:
    nothing here is used to route a call)."""
    router = PoolRouter(client, keys)
    pools = []
    for name, raw in sorted(client.hgetall(keys.configurations).items()):
        record = json.loads(raw)
        if record.get("kind") != "pool":
            continue
        names = [str(m.get("configuration")) for m in record.get("members") or []]
        members = []
        out = []
        for state in router.states(names):
            reason = router.out_reason(state.configuration) if state.out else None
            members.append(
                {
                    "configuration": state.configuration,
                    "state": "out" if state.out else "cooling" if state.cooling_s else "ready",
                    "cooling_s": state.cooling_s,
                    "failures_in_a_row": state.fails,
                    "in_flight": state.busy,
                    "latency_ms": None if state.latency_ms is None else round(state.latency_ms),
                }
            )
            if state.out:
                out.append({"configuration": state.configuration, "reason": reason})
        pools.append(
            {
                "name": reply_text(name),
                "strategy": record.get("strategy"),
                "fallback": record.get("fallback"),
                "members": members,
                "out_of_service": out,
            }
        )
    return pools
