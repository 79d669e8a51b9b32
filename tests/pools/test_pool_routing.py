"""Pools against real worker processes and three local provider servers, one per member.

Each server is scripted per test (answer, 429, 500, slow, 401, drop) and logs every
request it receives; the tests count what each member actually received.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from support import Recorded, Reply, WireServer, chat_completion, make_configuration

from worker.configurations import Configuration
from worker.configurations.pool import Member, Pool

pytestmark = pytest.mark.integration
WAIT_S = 120
#: Cooldowns short enough to see several in a test.
FAST = {"OPENAI_WORKER_POOL_COOLDOWN_S": "1", "OPENAI_WORKER_POOL_COOLDOWN_MAX_S": "2"}


@pytest.fixture
def members() -> Iterator[dict[str, WireServer]]:
    servers = {name: WireServer() for name in ("a", "b", "c")}
    for name, server in servers.items():
        server.handler = _answer_from(name)
    yield servers
    for server in servers.values():
        server.close()


def _answer_from(name: str) -> Any:
    return lambda _: Reply(json=chat_completion(f"answered by {name}"))


def _save_members(client: Any, servers: dict[str, WireServer], **limits: int) -> None:
    store = client.configurations()
    for name, server in servers.items():
        base = make_configuration("openai", server.url, name=name)
        store.save(Configuration(**{**base.public_dict(), "api_key": base.api_key, **limits}))


def _submit(client: Any, count: int, configuration: str = "pool") -> list[str]:
    payload = {"configuration": configuration, "model": "gpt-4o-mini", "user_prompt": "hi"}
    return [client.submit("chat_completions_without_history", payload) for _ in range(count)]


def _wait_all(client: Any, job_ids: list[str]) -> list[dict[str, Any]]:
    return [client.wait(job_id, WAIT_S) for job_id in job_ids]


def _answered(server: WireServer) -> int:
    return len(server.requests)


def test_weights_split_the_calls(client: Any, start_worker: Any, members: Any) -> None:
    # Given a pool of two members weighted 3:1
    servers = {"a": members["a"], "b": members["b"]}
    _save_members(client, servers)
    client.configurations().save_pool(Pool("pool", (Member("a", 3), Member("b", 1))))
    start_worker(processes=2, threads=8)

    # When 4,000 jobs run
    records = _wait_all(client, _submit(client, 4000))

    # Then every job succeeded once, and the members got 3:1 within 5 %
    assert Counter(r["status"] for r in records) == {"succeeded": 4000}
    a, b = _answered(members["a"]), _answered(members["b"])
    assert a + b == 4000
    assert abs(a / 4000 - 0.75) <= 0.75 * 0.05, (a, b)
    served = Counter(r["served_by"][0] for r in records)
    assert served == {"a": a, "b": b}
    assert {r["output"]["assistant_response_text"] for r in records} == {
        "answered by a",
        "answered by b",
    }


def test_a_throttled_member_is_cooled_down_and_jobs_go_on_at_once(
    client: Any, start_worker: Any, members: Any
) -> None:
    # Given member a answers 429 to everything, asking for a second's pause
    members["a"].handler = lambda _: Reply(
        429,
        {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}},
        headers={"Retry-After": "1"},
    )
    _save_members(client, members)
    client.configurations().save_pool(Pool("pool", tuple(Member(n) for n in "abc")))
    threads = 8
    start_worker(processes=2, threads=threads // 2, **FAST)

    # When 600 jobs run
    started = time.monotonic()
    records = _wait_all(client, _submit(client, 600))
    elapsed = time.monotonic() - started

    # Then all succeeded on b and c in their first attempt, none waited or retried
    assert Counter(r["status"] for r in records) == {"succeeded": 600}
    assert {r["served_by"][0] for r in records} <= {"b", "c"}
    assert all(r["attempts"] == 1 and not r.get("waited_s") for r in records)
    assert _answered(members["b"]) + _answered(members["c"]) == 600
    # and a was tried at most once per 1 s cooldown (plus the calls that were already
    # on their way to it when its first 429 came back, one per worker thread)
    windows = int(elapsed) + 1
    assert 1 <= _answered(members["a"]) <= threads + windows, (_answered(members["a"]), elapsed)


def test_member_limits_hold_and_add_up(client: Any, start_worker: Any, members: Any) -> None:
    # Given three members limited to 10 requests per (2 s) window each
    window_s = 2
    _save_members(client, members, requests_per_minute=10)
    client.configurations().save_pool(Pool("pool", tuple(Member(n) for n in "abc")))
    start_worker(processes=2, threads=4, OPENAI_WORKER_RATE_LIMIT_WINDOW_S=str(window_s), **FAST)

    # When 150 jobs run (five windows' worth of the sum of the limits)
    started = time.monotonic()
    records = _wait_all(client, _submit(client, 150))
    elapsed = time.monotonic() - started

    # Then no member received more than its limit within any window (its own log; the
    # limiter counts by tenths of a second of Redis' clock, hence the 0.15 s margin)
    assert Counter(r["status"] for r in records) == {"succeeded": 150}
    for name, server in members.items():
        times = sorted(r.received_at for r in server.requests)
        busiest = max(
            sum(1 for t in times[i:] if t - start < window_s - 0.15)
            for i, start in enumerate(times)
        )
        assert busiest <= 10, (name, busiest)
        assert len(times) >= 40  # each did its share
    # and the pool ran at the sum of the members' rates: 150 calls at 15 per second,
    # the first window's 30 at once, takes 8 s
    assert elapsed < 8 * 1.5, elapsed


def test_a_member_dying_mid_job_costs_no_answered_batch(
    client: Any, start_worker: Any, members: Any
) -> None:
    # Given an embeddings job of five batches and a member that dies after two answers
    answered_by_a = []

    def a_dies(request: Recorded) -> Reply:
        if len(answered_by_a) >= 2:
            return Reply(drop=True)
        answered_by_a.append(request)
        return _embeddings(request)

    members["a"].handler = a_dies
    members["b"].handler = _embeddings
    _save_members(client, {"a": members["a"], "b": members["b"]})
    client.configurations().save_pool(
        Pool("pool", (Member("a"), Member("b")), strategy="lowest-latency")
    )
    start_worker(processes=1, threads=2, **FAST)
    # (lowest-latency tries a member never measured first: a, whose latency is unknown)
    client.redis.set(client.keys.member("b", "latency"), "1000")

    chunks = [{"key": f"k{i}", "input": f"chunk {i}"} for i in range(5 * 2048)]
    payload = {"configuration": "pool", "model": "m", "chunks": chunks}
    record = client.wait(client.submit("embeddings_list_input", payload), WAIT_S)

    # Then the job finished on b with every batch answered exactly once
    assert record["status"] == "succeeded", record["error"]
    assert [c["key"] for c in record["output"]["chunks"]] == [c["key"] for c in chunks]
    answered = [r for s in ("a", "b") for r in members[s].requests if r not in _dropped(members)]
    firsts = Counter(r.json["input"][0] for r in answered)
    assert sorted(firsts) == sorted(f"chunk {n * 2048}" for n in range(5))
    assert set(firsts.values()) == {1}
    assert record["served_by"] == ["a", "a", "b", "b", "b"]


def _dropped(members: dict[str, WireServer]) -> list[Recorded]:
    a = members["a"].requests
    return a[2:]


def _embeddings(request: Recorded) -> Reply:
    count = len(request.json["input"])
    data = [{"object": "embedding", "index": i, "embedding": [0.5, 0.25]} for i in range(count)]
    usage = {"prompt_tokens": count, "total_tokens": count}
    return Reply(json={"object": "list", "data": data, "model": "m", "usage": usage})


def test_an_unauthorized_member_is_out_until_its_configuration_is_saved_again(
    client: Any, start_worker: Any, members: Any, cli: Any
) -> None:
    # Given member a refuses its key
    members["a"].handler = lambda _: Reply(
        401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
    )
    _save_members(client, {"a": members["a"], "b": members["b"]})
    client.configurations().save_pool(Pool("pool", (Member("a", 100), Member("b", 1))))
    start_worker(processes=1, threads=1)

    # When jobs run, a is asked once, then never again; every job succeeds on b
    records = _wait_all(client, _submit(client, 20))
    assert Counter(r["status"] for r in records) == {"succeeded": 20}
    assert _answered(members["a"]) == 1
    assert {r["served_by"][0] for r in records} == {"b"}
    # health says so
    code, health, _ = cli("health")
    [pool] = [p for p in health["pools"] if p["name"] == "pool"]
    assert [m["configuration"] for m in pool["out_of_service"]] == ["a"]
    assert "401" in pool["out_of_service"][0]["reason"]

    # And once a's configuration is saved again (its key fixed), a serves again
    members["a"].handler = _answer_from("a")
    _save_members(client, {"a": members["a"]})
    records = _wait_all(client, _submit(client, 20))
    assert "a" in {r["served_by"][0] for r in records}


def test_errors_every_member_would_give_are_not_failed_over(
    client: Any, start_worker: Any, members: Any
) -> None:
    refused = Reply(
        400,
        {"error": {"message": "The response was filtered", "code": "content_filter"}},
    )
    for server in members.values():
        server.handler = lambda _: refused
    _save_members(client, members)
    client.configurations().save_pool(Pool("pool", tuple(Member(n) for n in "abc")))
    start_worker(processes=1, threads=2)

    records = _wait_all(client, _submit(client, 10))

    assert Counter(r["status"] for r in records) == {"failed": 10}
    assert {r["error"]["status_code"] for r in records} == {400}
    assert sum(_answered(s) for s in members.values()) == 10  # one request per job


def test_the_fallback_serves_when_every_member_is_out(
    client: Any, start_worker: Any, members: Any
) -> None:
    for name in ("a", "b"):
        members[name].handler = lambda _: Reply(
            404, {"error": {"message": "no such deployment", "code": "DeploymentNotFound"}}
        )
    _save_members(client, members)
    client.configurations().save_pool(Pool("pool", (Member("a"), Member("b")), fallback="c"))
    start_worker(processes=1, threads=2)

    records = _wait_all(client, _submit(client, 10))

    assert Counter(r["status"] for r in records) == {"succeeded": 10}
    # each member is asked once, or once per thread whose call was on its way already
    assert 1 <= _answered(members["a"]) <= 2
    assert 1 <= _answered(members["b"]) <= 2
    assert _answered(members["c"]) == 10
    assert {tuple(r["served_by"]) for r in records} == {("c",)}


@pytest.mark.parametrize("strategy", ["least-busy", "lowest-latency"])
def test_strategies_prefer_the_idle_or_fast_member(
    strategy: str, client: Any, start_worker: Any, members: Any
) -> None:
    # Given member a answers after 200 ms and b at once
    members["a"].handler = lambda _: Reply(json=chat_completion("slow"), delay_s=0.2)
    _save_members(client, {"a": members["a"], "b": members["b"]})
    client.configurations().save_pool(Pool("pool", (Member("a"), Member("b")), strategy=strategy))
    start_worker(processes=2, threads=4)

    # When 400 jobs run
    records = _wait_all(client, _submit(client, 400))

    # Then b, idle or fast, served far more of them
    assert Counter(r["status"] for r in records) == {"succeeded": 400}
    a, b = _answered(members["a"]), _answered(members["b"])
    assert b > 3 * a, (a, b)
