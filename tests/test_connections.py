"""Redis clients: a bounded pool makes a thread wait for a connection, never fail."""

from __future__ import annotations

import threading
import time

import redis

from worker.connections import redis_client


def test_a_thread_waits_for_a_connection_when_the_bounded_pool_is_in_use(
    redis_url: str,
) -> None:
    client = redis_client(redis_url, max_connections=1)
    pool = client.connection_pool
    assert isinstance(pool, redis.BlockingConnectionPool)
    held = pool.get_connection()
    answers: list[object] = []

    # Given the only connection taken, When another thread sends a command, Then it
    # waits until the connection is back instead of failing with "Too many connections".
    thread = threading.Thread(target=lambda: answers.append(client.ping()))
    thread.start()
    time.sleep(0.2)
    assert answers == []
    pool.release(held)
    thread.join(timeout=5)

    assert answers == [True]


def test_without_a_bound_the_client_uses_redis_pys_default_pool(redis_url: str) -> None:
    client = redis_client(redis_url)

    assert type(client.connection_pool) is redis.ConnectionPool
    assert client.ping()
