"""Pools: one name for several configurations, routed per call with shared state and
failover (``router``: member state in Redis; ``client``: the provider client of a
pool's job; ``dialect``: one body for members speaking different API versions)."""

from worker.pools.client import PoolClient
from worker.pools.router import MemberState, PoolRouter, RouterSettings

__all__ = ["MemberState", "PoolClient", "PoolRouter", "RouterSettings"]
