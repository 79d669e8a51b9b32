"""The parts of pools: the value, its storage, the dialect each member gets, which
errors move a call on, and the routing state in Redis."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest
import redis

from worker.configurations import (
    Configuration,
    ConfigurationStore,
    KeyRing,
    MemoryBackend,
    RedisBackend,
    generate_secret_key,
)
from worker.configurations.pool import Member, Pool, parse_member
from worker.engine.pool_client import failure_kind
from worker.engine.pool_dialect import for_member
from worker.errors import ConfigurationError, ProviderError, TransportError, ValidationError
from worker.keys import Keys
from worker.pools import PoolRouter, RouterSettings
from worker.providers import provider_for

KEY = "sk-pool-test-abcdefghijklmnopq"


def openai(name: str) -> Configuration:
    return Configuration(
        name=name, api_type="openai", endpoint="https://api.openai.com/v1", api_key=KEY
    )


def azure(name: str, version: str) -> Configuration:
    return Configuration(
        name=name,
        api_type="azure_openai",
        endpoint="https://r.openai.azure.com/",
        api_key=KEY,
        deployment_name="dep",
        api_version=version,
    )


# --- the value ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pool", "problem"),
    [
        (lambda: Pool("p", ()), "at least one member"),
        (lambda: Pool("p", (Member("a"), Member("a"))), "a member once"),
        (lambda: Pool("p", (Member("p"),)), "its own member"),
        (lambda: Pool("p", (Member("a", 0),)), "weights must be whole numbers"),
        (lambda: Pool("p", (Member("a"),), strategy="random"), "strategy must be one of"),
        (lambda: Pool("p", (Member("a"),), fallback="a"), "neither the pool itself"),
        (lambda: Pool("p", (Member("a"),), fallback="p"), "neither the pool itself"),
    ],
)
def test_a_pool_that_cannot_work_is_refused_saying_why(pool: Any, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        pool()


def test_members_are_parsed_with_their_weights() -> None:
    assert parse_member("east:3") == Member("east", 3)
    assert parse_member("east") == Member("east", 1)
    # a colon not followed by a number belongs to the name
    assert parse_member("team:east") == Member("team:east", 1)


# --- storage --------------------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, redis_url: str, namespace: str) -> ConfigurationStore:
    backend: Any = (
        MemoryBackend()
        if request.param == "memory"
        else RedisBackend(redis.Redis.from_url(redis_url), Keys(namespace))
    )
    found = ConfigurationStore(backend, KeyRing([generate_secret_key()]))
    found.save(openai("a"))
    found.save(azure("b", "2024-10-21"))
    return found


def test_a_pool_is_stored_sealed_listed_and_resolved(store: ConfigurationStore) -> None:
    pool = Pool("p", (Member("a", 3, "gpt-4o"), Member("b")), "least-busy")
    store.save_pool(pool)

    assert store.resolve("p") == pool
    assert store.load_pool("p") == pool
    with pytest.raises(ConfigurationError, match="is a pool"):
        store.load("p")
    with pytest.raises(ConfigurationError, match="not a pool"):
        store.load_pool("a")
    listed = {entry["name"]: entry for entry in store.list()}
    assert listed["p"]["kind"] == "pool"
    assert listed["p"]["members"][0] == {"configuration": "a", "weight": 3, "model": "gpt-4o"}
    assert "sealed" not in listed["p"]


def test_a_pool_changed_outside_the_worker_is_not_used(store: ConfigurationStore) -> None:
    store.save_pool(Pool("p", (Member("a"), Member("b"))))
    record = json.loads(store.backend.get("p") or "")
    record["members"] = [{"configuration": "evil", "weight": 1, "model": None}]
    store.backend.put("p", json.dumps(record))

    with pytest.raises(ConfigurationError, match="changed outside openai-worker"):
        store.resolve("p")


def test_members_must_be_stored_configurations_and_not_pools(store: ConfigurationStore) -> None:
    with pytest.raises(ConfigurationError, match="no configuration named 'missing'"):
        store.save_pool(Pool("p", (Member("a"), Member("missing"))))
    store.save_pool(Pool("p", (Member("a"),)))
    with pytest.raises(ConfigurationError, match="is a pool; members are configurations"):
        store.save_pool(Pool("q", (Member("p"),)))
    store.save_pool(Pool("q", (Member("b"),), fallback="p"))  # a pool may be a fallback


# --- one body, each member's dialect ---------------------------------------------------


def test_each_member_gets_the_body_in_its_own_dialect() -> None:
    body = {
        "model": "gpt-4o",
        "max_completion_tokens": 50,
        "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": "hi"},
        ],
    }
    old_azure = provider_for(azure("old", "2024-06-01"))
    assert for_member(body, old_azure, Member("old")) == {
        "model": "gpt-4o",  # dropped by the Azure layout's own prepare_body
        "max_tokens": 50,
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
    }
    new_openai = provider_for(openai("new"))
    assert for_member(body, new_openai, Member("new", model="gpt-4.1")) == {
        **body,
        "model": "gpt-4.1",
    }
    assert body["messages"][0]["role"] == "developer"  # the operation's body is untouched


# --- which errors move a call on --------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ProviderError("slow down", status_code=429, retryable=True), "failover"),
        (ProviderError("oops", status_code=500, retryable=True), "failover"),
        (ProviderError("busy", status_code=503, retryable=True), "failover"),
        (TransportError("no answer within 5 s", retryable=True), "failover"),
        (ProviderError("a body that is not JSON", status_code=200, retryable=True), "failover"),
        (ProviderError("bad key", status_code=401), "out"),
        (ProviderError("forbidden", status_code=403), "out"),
        (
            ProviderError("no deployment", status_code=404, details={"code": "DeploymentNotFound"}),
            "out",
        ),
        (
            ProviderError(
                "quota", status_code=429, retryable=False, details={"code": "insufficient_quota"}
            ),
            "out",
        ),
        (ProviderError("filtered", status_code=400, details={"code": "content_filter"}), "final"),
        (ProviderError("bad request", status_code=400), "final"),
        (ProviderError("not implemented", status_code=501, retryable=False), "final"),
        (ValidationError("bad payload"), "final"),
    ],
)
def test_errors_are_sorted_into_failover_out_and_final(error: Any, kind: str) -> None:
    assert failure_kind(error) == kind


# --- routing state in Redis ---------------------------------------------------------


@pytest.fixture
def router(redis_url: str, namespace: str) -> PoolRouter:
    return PoolRouter(
        redis.Redis.from_url(redis_url),
        Keys(namespace),
        RouterSettings(cooldown_base_s=0.5, cooldown_max_s=2),
        random.Random(7),
    )


def test_a_failed_member_cools_down_doubling_then_lets_one_probe_through(
    router: PoolRouter,
) -> None:
    token = router.claim("a", 10)
    assert token is not None
    assert router.states(["a"])[0].busy == 1

    assert router.failed("a", token, "provider 500: oops", None) == 0.5
    [state] = router.states(["a"])
    assert state.busy == 0
    assert state.fails == 1
    assert 0 < state.cooling_s <= 0.5
    assert router.claim("a", 10) is None  # cooling down

    router.client.delete(router.keys.member("a", "cool"))  # the cooldown has ended
    probe = router.claim("a", 10)
    assert probe is not None
    assert router.claim("a", 10) is None  # one probe at a time, for every worker
    assert router.failed("a", probe, "provider 500: oops", None) == 1.0  # doubled

    router.client.delete(router.keys.member("a", "cool"))
    probe = router.claim("a", 10)
    assert probe is not None
    router.succeeded("a", probe, 0.25)
    [state] = router.states(["a"])
    assert (state.fails, state.cooling_s, state.latency_ms) == (0, 0, 250)
    assert router.claim("a", 10) is not None  # healthy again: no probe needed


def test_retry_after_sets_the_cooldown_within_the_longest(router: PoolRouter) -> None:
    token = router.claim("a", 10)
    assert token is not None
    assert router.failed("a", token, "429", retry_after_s=1.5) == 1.5
    token_b = router.claim("b", 10)
    assert token_b is not None
    assert router.failed("b", token_b, "429", retry_after_s=3600) == 2.0


def test_out_of_service_lasts_until_the_configuration_is_saved_again(
    router: PoolRouter, redis_url: str, namespace: str
) -> None:
    token = router.claim("a", 10)
    assert token is not None
    router.taken_out("a", token, "provider 401: Incorrect API key")
    assert router.states(["a"])[0].out
    assert router.out_reason("a") == "provider 401: Incorrect API key"
    assert router.claim("a", 10) is None

    store = ConfigurationStore(
        RedisBackend(router.client, router.keys), KeyRing([generate_secret_key()])
    )
    store.save(openai("a"))
    assert not router.states(["a"])[0].out
    assert router.claim("a", 10) is not None


def test_strategies_order_the_available_members(router: PoolRouter) -> None:
    pool = Pool("p", (Member("a", 3), Member("b", 1)))
    firsts = Counter(
        router.order(pool, router.states(["a", "b"]))[0].configuration for _ in range(4000)
    )
    assert abs(firsts["a"] / 4000 - 0.75) < 0.03

    for _ in range(3):
        router.claim("a", 10)
    busy = Pool("p", (Member("a"), Member("b")), "least-busy")
    assert [m.configuration for m in router.order(busy, router.states(["a", "b"]))] == ["b", "a"]

    for name, seconds in (("a", 0.05), ("b", 0.5)):
        token = router.claim(name, 10)
        assert token is not None
        router.succeeded(name, token, seconds)
    fast = Pool("p", (Member("a"), Member("b")), "lowest-latency")
    assert [m.configuration for m in router.order(fast, router.states(["a", "b"]))] == ["a", "b"]

    token = router.claim("a", 10)
    assert token is not None
    router.failed("a", token, "500", None)
    assert [m.configuration for m in router.order(fast, router.states(["a", "b"]))] == ["b"]
