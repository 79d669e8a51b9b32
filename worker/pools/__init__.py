"""Pools' routing state in Redis, shared by every worker (``router``), and what operators
see of it (``report``). The client that routes a job's calls is
``worker.engine.pool_client``."""

from worker.pools.router import MemberState, PoolRouter, RouterSettings

__all__ = ["MemberState", "PoolRouter", "RouterSettings"]
