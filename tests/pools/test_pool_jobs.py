"""Pools as a user meets them: the command line, members of different API versions,
and what a pool cannot do (raw requests, the batch tier), through real workers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from support import Reply, WireServer, chat_completion

pytestmark = pytest.mark.integration
WAIT_S = 60


@pytest.fixture
def servers() -> Iterator[dict[str, WireServer]]:
    found = {name: WireServer() for name in ("azure", "openai")}
    yield found
    for server in found.values():
        server.close()


def _configure(cli: Any, servers: dict[str, WireServer]) -> None:
    key = {"OPENAI_WORKER_API_KEY": "sk-pool-cli-test-key-000000000000"}
    code, _, err = cli(
        "configure",
        "old-azure",
        "--api-type",
        "azure_openai",
        "--endpoint",
        f"{servers['azure'].url}/openai/deployments/",
        "--deployment-name",
        "gpt4o-east",
        "--api-version",
        "2024-06-01",
        **key,
    )
    assert code == 0, err
    code, _, err = cli(
        "configure",
        "openai",
        "--api-type",
        "openai",
        "--endpoint",
        f"{servers['openai'].url}/v1",
        **key,
    )
    assert code == 0, err


def test_configure_pool_saves_lists_and_refuses_bad_pools(cli: Any, servers: Any) -> None:
    _configure(cli, servers)

    code, saved, err = cli(
        "configure-pool",
        "gpt4o",
        "--member",
        "old-azure:3",
        "--member",
        "openai",
        "--model",
        "openai=gpt-4.1",
        "--strategy",
        "least-busy",
    )

    assert code == 0, err
    assert saved["saved"]["members"] == [
        {"configuration": "old-azure", "weight": 3, "model": None},
        {"configuration": "openai", "weight": 1, "model": "gpt-4.1"},
    ]
    code, listed, _ = cli("configurations")
    assert {entry["name"]: entry.get("kind") for entry in listed} == {
        "old-azure": None,
        "openai": None,
        "gpt4o": "pool",
    }
    # A member that does not exist, a pool as a member, a bad weight: each said clearly
    code, out, _ = cli("configure-pool", "p2", "--member", "nowhere")
    assert (code, out["error"]["type"]) == (2, "configuration")
    assert "no configuration named 'nowhere'" in out["error"]["message"]
    code, out, _ = cli("configure-pool", "p3", "--member", "gpt4o")
    assert "is a pool; members are configurations" in out["error"]["message"]
    code, out, _ = cli("configure-pool", "p4", "--member", "openai:0")
    assert "weights must be whole numbers" in out["error"]["message"]
    code, out, _ = cli("configure-pool", "p5", "--member", "openai", "--model", "azure=x")
    assert "not members: azure" in out["error"]["message"]


def test_members_of_different_api_versions_each_get_their_own_dialect(
    cli: Any, client: Any, start_worker: Any, servers: Any
) -> None:
    # Given a pool of an Azure deployment at 2024-06-01 (max_tokens, no developer role)
    # and an OpenAI member with a model of its own
    for server in servers.values():
        server.handler = lambda _: Reply(json=chat_completion("hello"))
    _configure(cli, servers)
    code, _, err = cli(
        "configure-pool",
        "p",
        "--member",
        "old-azure",
        "--member",
        "openai",
        "--model",
        "openai=gpt-4.1",
    )
    assert code == 0, err
    start_worker(processes=1, threads=4)

    # When jobs with a developer message and max_tokens run on the pool
    payload = {
        "configuration": "p",
        "model": "gpt-4o",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
        "max_tokens": 20,
    }
    jobs = [client.submit("chat_completions_with_history", payload) for _ in range(40)]
    records = [client.wait(job_id, WAIT_S) for job_id in jobs]

    # Then both members served, each in its own dialect
    assert Counter(r["status"] for r in records) == {"succeeded": 40}
    assert {r["served_by"][0] for r in records} == {"old-azure", "openai"}
    for request in servers["azure"].requests:
        assert request.path == "/openai/deployments/gpt4o-east/chat/completions"
        assert request.query == {"api-version": "2024-06-01"}
        body = request.json
        assert "model" not in body
        assert body["max_tokens"] == 20
        assert "max_completion_tokens" not in body
        assert body["messages"][0]["role"] == "system"
    for request in servers["openai"].requests:
        body = request.json
        assert body["model"] == "gpt-4.1"
        assert body["max_completion_tokens"] == 20
        assert body["messages"][0]["role"] == "developer"


def test_raw_requests_and_the_batch_tier_need_one_configuration(
    cli: Any, client: Any, start_worker: Any, servers: Any
) -> None:
    _configure(cli, servers)
    assert cli("configure-pool", "p", "--member", "old-azure", "--member", "openai")[0] == 0
    start_worker(processes=1, threads=2)

    raw = client.submit(
        "raw_request",
        {"configuration": "p", "method": "POST", "path": "chat/completions", "json": {"x": 1}},
    )
    batch = client.submit(
        "chat_completions_without_history",
        {"configuration": "p", "model": "gpt-4o", "user_prompt": "hi"},
        tier="batch",
    )

    for job_id in (raw, batch):
        record = client.wait(job_id, WAIT_S)
        assert record["status"] == "failed"
        assert record["error"]["type"] == "configuration"
        assert "is a pool" in record["error"]["message"]
    assert not servers["azure"].requests
    assert not servers["openai"].requests
