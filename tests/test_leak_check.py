"""The suite's own leak check reads every kind of Redis value it may have to search, in
pipelines of many keys or one key at a time."""

from __future__ import annotations

import redis
from support import AZURE_KEY, dump_value, dump_values, leaks


def test_the_dump_reads_every_kind_of_value(redis_url: str, namespace: str) -> None:
    client = redis.Redis.from_url(redis_url)
    keys = [f"{namespace}:{kind}".encode() for kind in ("s", "h", "l", "set", "z", "x", "none")]
    client.set(keys[0], b"plain")
    client.hset(keys[1], mapping={b"a": b"1", b"b": b"2"})
    client.rpush(keys[2], b"one", b"two")
    client.sadd(keys[3], b"member")
    client.zadd(keys[4], {b"low": 1, b"high": 2})
    client.xadd(keys[5], {b"f": b"v"})

    assert dump_values(client, keys) == [
        b"plain",
        b"a=1\nb=2",
        b"one\ntwo",
        b"member",
        b"low\nhigh",
        b"",  # streams are not read (the events stream: job ids and statuses)
        b"",
    ]
    assert [dump_value(client, key) for key in keys[:2]] == [b"plain", b"a=1\nb=2"]
    client.close()


def test_a_test_key_in_a_hash_is_found(redis_url: str, namespace: str) -> None:
    client = redis.Redis.from_url(redis_url)
    key = f"{namespace}:leaky".encode()
    client.hset(key, "record", f"an error quoting {AZURE_KEY}")

    assert leaks(dump_values(client, [key])[0])
    client.delete(key)
    client.close()
