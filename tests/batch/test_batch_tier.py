"""The batch tier end to end: real worker processes, real Redis, and a stateful local
Batch API server speaking OpenAI's and Azure's wire formats."""

from __future__ import annotations

import json
from typing import Any

import pytest
from batch_api_server import BatchApi, embedding_for, serve_batch_api
from support import AZURE_KEY, ENTRA_TOKEN, OPENAI_KEY, make_configuration, wait_for

from worker.errors import ValidationError

pytestmark = pytest.mark.integration
WAIT_S = 60
#: A short window and quick polls: a group seals a second after its first job.
BATCH_ENV = {
    "OPENAI_WORKER_BATCH_WINDOW_S": "1",
    "OPENAI_WORKER_BATCH_POLL_MIN_S": "0.2",
    "OPENAI_WORKER_BATCH_POLL_MAX_S": "0.5",
}


def server_for(variant: str, **options: Any) -> Any:
    key = OPENAI_KEY if variant == "openai" else AZURE_KEY
    return serve_batch_api(api_key=key, entra_token=ENTRA_TOKEN, **options)


def prompt(i: int, **extra: Any) -> dict[str, Any]:
    return {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": f"Q{i}", **extra}


def calls(api: BatchApi, method: str, suffix: str) -> list[Any]:
    return [r for r in api.requests if r.method == method and r.path.endswith(suffix)]


@pytest.mark.parametrize("variant", ["openai", "azure_api_key", "azure_v1"])
def test_batch_tier_jobs_end_with_their_own_answers(
    variant: str, client: Any, start_worker: Any
) -> None:
    with server_for(variant) as api:
        client.configurations().save(make_configuration(variant, api.url))
        start_worker(threads=4, **BATCH_ENV)
        chats = [
            client.submit("chat_completions_without_history", prompt(i), tier="batch")
            for i in range(5)
        ]
        chunks = [{"key": f"k{i}", "input": f"chunk {i}"} for i in range(3)]
        vectors = client.submit(
            "embeddings_list_input",
            {"configuration": "test", "model": "text-embedding-3-small", "chunks": chunks},
            tier="batch",
        )
        records = {job_id: client.wait(job_id, WAIT_S) for job_id in [*chats, vectors]}

        for job_id in chats:
            record = records[job_id]
            assert record["status"] == "succeeded", record
            assert record["output"]["assistant_response_text"] == f"answer to {job_id}/round:0"
            assert record["tier"] == "batch"
            assert record["batch"]["provider_batch_id"].startswith("batch")
            assert record["batch"]["ended"] == {"status": "completed"}
            assert record["usage"]["total_tokens"] > 0
        embedded = records[vectors]
        assert embedded["status"] == "succeeded", embedded
        assert [c["key"] for c in embedded["output"]["chunks"]] == ["k0", "k1", "k2"]
        expected = [embedding_for(f"{vectors}/batch:0", i) for i in range(3)]
        got = [c["embedding_vector"] for c in embedded["output"]["chunks"]]
        for vector, wanted in zip(got, expected, strict=True):
            assert vector == pytest.approx(wanted, rel=1e-6)

        # One file and one batch per route (chat, embeddings); no request sent twice.
        assert api.files_uploaded == 2
        assert api.batches_created == 2
        assert not calls(api, "POST", "/chat/completions")
        # The provider's files are deleted once the answers are in, then the groups are
        # done (the jobs' records are final before that: a wait can return first).
        wait_for(lambda: len(calls(api, "DELETE", "")) >= 4, 20)
        wait_for(lambda: {g["state"] for g in client.batch_groups()} == {"done"}, 20)
        groups = client.batch_groups()
        assert sorted(g["requests"] for g in groups) == [1, 5]


def test_a_request_the_batch_failed_fails_its_job_as_in_the_standard_tier(
    client: Any, start_worker: Any
) -> None:
    failing: set[str] = set()
    with server_for("openai", fail_custom_ids=lambda cid: 400 if cid in failing else None) as api:
        client.configurations().save(make_configuration("openai", api.url))
        job_ids = [
            client.submit("chat_completions_without_history", prompt(i), tier="batch")
            for i in range(3)
        ]
        failing.add(f"{job_ids[1]}/round:0")
        start_worker(threads=2, **BATCH_ENV)
        records = [client.wait(job_id, WAIT_S) for job_id in job_ids]

    assert [r["status"] for r in records] == ["succeeded", "failed", "succeeded"]
    error = records[1]["error"]
    assert error["type"] == "provider"
    assert error["status_code"] == 400
    assert records[1]["attempts"] == 1  # a batch's answer is final: not retried


def test_multiple_prompts_go_one_request_each_and_fail_apart(
    client: Any, start_worker: Any
) -> None:
    failing: set[str] = set()
    with server_for("openai", fail_custom_ids=lambda cid: 500 if cid in failing else None) as api:
        client.configurations().save(make_configuration("openai", api.url))
        payload = {"configuration": "test", "model": "gpt-4o-mini", "prompts": ["a", "b", "c"]}
        job_id = client.submit("chat_completions_multiple", payload, tier="batch")
        failing.add(f"{job_id}/prompt:1/round:0")
        start_worker(threads=2, **BATCH_ENV)
        record = client.wait(job_id, WAIT_S)

    assert record["status"] == "succeeded", record
    entries = record["output"]["responses"]
    assert [e["success"] for e in entries] == [True, False, True]
    assert entries[0]["assistant_response_text"] == f"answer to {job_id}/prompt:0/round:0"
    assert entries[1]["error"]["status_code"] == 500
    assert api.batches_created == 1


@pytest.mark.parametrize("on_expiry", ["fail", "standard"])
def test_an_expired_batch_keeps_what_completed(
    on_expiry: str, client: Any, start_worker: Any, wire_server: Any
) -> None:
    with server_for("openai", expire_after=2) as api:
        client.configurations().save(make_configuration("openai", api.url))
        job_ids = [
            client.submit(
                "chat_completions_without_history", prompt(i), tier="batch", on_expiry=on_expiry
            )
            for i in range(4)
        ]
        start_worker(threads=2, **BATCH_ENV)
        records = [client.wait(job_id, WAIT_S) for job_id in job_ids]
        standard_calls = calls(api, "POST", "/chat/completions")

    statuses = [r["status"] for r in records]
    assert statuses.count("succeeded") == (4 if on_expiry == "standard" else 2), records
    assert all(r["batch"]["ended"]["status"] == "expired" for r in records)
    if on_expiry == "fail":
        failed = [r for r in records if r["status"] == "failed"]
        assert all("expired" in r["error"]["message"] for r in failed)
        assert not standard_calls
    else:
        # The two the batch never ran went to the provider at once, each once.
        assert len(standard_calls) == 2


def test_a_batch_the_provider_refuses_fails_its_jobs_with_the_reasons(
    client: Any, start_worker: Any
) -> None:
    with server_for("openai", validation_fails=True) as api:
        client.configurations().save(make_configuration("openai", api.url))
        job_ids = [
            client.submit("chat_completions_without_history", prompt(i), tier="batch")
            for i in range(2)
        ]
        start_worker(threads=2, **BATCH_ENV)
        records = [client.wait(job_id, WAIT_S) for job_id in job_ids]
    for record in records:
        assert record["status"] == "failed"
        assert record["error"]["type"] == "provider"
        assert "refused the batch" in record["error"]["message"]


def test_tiers_the_batch_api_cannot_serve_are_refused_at_submission(client: Any) -> None:
    with pytest.raises(ValidationError, match="function calling cannot run in the batch tier"):
        client.submit(
            "chat_completions_without_history",
            prompt(0, functions=[{"name": "get_weather"}]),
            tier="batch",
        )
    payload = {"configuration": "test", "prompt": "a cat"}
    with pytest.raises(ValidationError, match="image_generations_single cannot run in the batch"):
        client.submit("image_generations_single", payload, tier="batch")
    raw = {"configuration": "test", "method": "GET", "path": "models"}
    with pytest.raises(ValidationError, match="raw_request cannot run in the batch tier"):
        client.submit("raw_request", raw, tier="batch")
    with pytest.raises(ValidationError, match="tier must be standard or batch"):
        client.submit("chat_completions_without_history", prompt(0), tier="cheap")
    with pytest.raises(ValidationError, match="on_expiry"):
        client.submit("chat_completions_without_history", prompt(0), tier="batch", on_expiry="x")


def test_a_cancelled_job_is_left_out_of_its_groups_file(client: Any, start_worker: Any) -> None:
    with server_for("openai") as api:
        client.configurations().save(make_configuration("openai", api.url))
        start_worker(
            threads=2, OPENAI_WORKER_BATCH_WINDOW_S="3", OPENAI_WORKER_BATCH_POLL_MIN_S="0.2"
        )
        job_ids = [
            client.submit("chat_completions_without_history", prompt(i), tier="batch")
            for i in range(3)
        ]
        wait_for(lambda: all(client.result(j)["batch"].get("group") for j in job_ids), 20)
        assert client.cancel(job_ids[0]) == "queued"
        records = [client.wait(job_id, WAIT_S) for job_id in job_ids]
        [batch] = {r["batch"]["provider_batch_id"] for r in records[1:]}

    assert records[0]["status"] == "failed"
    assert records[0]["error"]["type"] == "cancelled"
    assert [r["status"] for r in records[1:]] == ["succeeded", "succeeded"]
    assert records[0]["batch"].get("provider_batch_id") is None
    assert batch


def test_a_configurations_default_tier_sends_jobs_without_a_tier_batch(
    client: Any, start_worker: Any
) -> None:
    with server_for("openai") as api:
        configuration = make_configuration("openai", api.url)
        client.configurations().save(
            type(configuration)(**{**configuration.__dict__, "default_tier": "batch"})
        )
        start_worker(threads=2, **BATCH_ENV)
        job_id = client.submit("chat_completions_without_history", prompt(0))
        record = client.wait(job_id, WAIT_S)

    assert record["status"] == "succeeded", record
    assert record["tier"] == "batch"
    assert record["output"]["assistant_response_text"] == f"answer to {job_id}/round:0"
    assert api.batches_created == 1
    assert json.dumps(record)  # plain JSON all through


def test_every_batchable_operation_gives_the_standard_tiers_output(
    client: Any, start_worker: Any
) -> None:
    model = {"configuration": "test", "model": "gpt-4o-mini"}
    embed = {"configuration": "test", "model": "text-embedding-3-small"}
    payloads = {
        "chat_completions_with_history": {
            **model,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
            ],
        },
        "summarize_text": {**model, "text": "A long text to summarise."},
        "chat_completions_advanced": {
            "configuration": "test",
            "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
        },
        "embeddings_single_input": {**embed, "input": "one text"},
        "embeddings_advanced": {
            "configuration": "test",
            "request": {"model": "m", "input": ["a", "b"]},
        },
    }
    with server_for("openai") as api:
        client.configurations().save(make_configuration("openai", api.url))
        start_worker(threads=4, **BATCH_ENV)
        jobs = {op: client.submit(op, payload, tier="batch") for op, payload in payloads.items()}
        records = {op: client.wait(job_id, WAIT_S) for op, job_id in jobs.items()}

    for op, record in records.items():
        assert record["status"] == "succeeded", (op, record)
    history = records["chat_completions_with_history"]["output"]
    assert history["assistant_response_text"] == (
        f"answer to {jobs['chat_completions_with_history']}/round:0"
    )
    summary = records["summarize_text"]["output"]["summary"]
    assert summary == f"answer to {jobs['summarize_text']}/round:0"
    advanced = records["chat_completions_advanced"]["output"]
    assert advanced["choices"][0]["message"]["content"] == (
        f"answer to {jobs['chat_completions_advanced']}/round:0"
    )
    single = records["embeddings_single_input"]["output"]["embedding_vector"]
    assert single == pytest.approx(embedding_for(f"{jobs['embeddings_single_input']}/call", 0))
    whole = records["embeddings_advanced"]["output"]
    assert [item["index"] for item in whole["data"]] == [0, 1]
    # One route per endpoint and model: chat (one model), two embeddings models.
    assert api.batches_created == 3


def test_a_batched_job_cancelled_fails_when_its_batch_ends(client: Any, start_worker: Any) -> None:
    with server_for("openai", polls_per_step=8) as api:
        client.configurations().save(make_configuration("openai", api.url))
        start_worker(threads=2, **BATCH_ENV)
        job_ids = [
            client.submit("chat_completions_without_history", prompt(i), tier="batch")
            for i in range(2)
        ]
        wait_for(lambda: client.result(job_ids[0])["status"] == "batched", 30)
        # The provider's counts, as of its latest poll.
        wait_for(lambda: _counts(client, job_ids[0]).get("total") == 2, 30)
        assert client.cancel(job_ids[0]) == "batched"
        records = [client.wait(job_id, WAIT_S) for job_id in job_ids]
        assert api.batches_created == 1

    assert records[0]["status"] == "failed"
    assert records[0]["error"]["type"] == "cancelled"
    assert records[1]["status"] == "succeeded"
    with pytest.raises(ValidationError, match="is failed"):
        client.cancel(job_ids[0])


def _counts(client: Any, job_id: str) -> dict[str, Any]:
    return client.result(job_id)["batch"].get("request_counts") or {}
