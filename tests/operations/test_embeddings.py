"""The embeddings operations over real HTTP, every wire variant."""

from __future__ import annotations

import base64
import json
import struct
from array import array
from typing import Any

import pytest
import redis
from support import Recorded, Reply, make_configuration, provider_error

from schemas.embeddings import MAX_CHUNKS
from worker.operations import embeddings
from worker.operations._embedding_batches import plan_batches
from worker.operations._tokens import TokenCounter
from worker.operations._vectors import decode_vector, vector_json
from worker.operations.embeddings import MAX_RESULT_VALUES


def vector_for(text: str, dims: int = 3) -> list[float]:
    """A vector the wire server derives from the input, so mapping mistakes show."""
    seed = sum(map(ord, text)) % 1000
    return [seed / 1000.0 + i for i in range(dims)]


def as_float32(values: list[float]) -> list[float]:
    """The values as the API computes them (float32), read back as Python floats."""
    return list(array("f", values))


def embeddings_answer(request: Recorded, *, reverse: bool = False, dims: int = 3) -> Reply:
    body = request.json
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = []
    for index, text in enumerate(inputs):
        vector = vector_for(text, dims)
        embedding: Any = vector
        if body.get("encoding_format") == "base64":
            embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    if reverse:
        data.reverse()
    usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
    return Reply(json={"object": "list", "model": "m", "data": data, "usage": usage})


def test_a_single_input_is_answered_with_its_vector(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    wire_server.handler = embeddings_answer
    harness = run_job(provider_config)

    record = harness.run(
        "embeddings_single_input",
        {"configuration": "test", "model": "text-embedding-3-small", "input": "hello"},
    )

    assert record["success"] is True
    assert as_float32(record["output"]["embedding_vector"]) == as_float32(vector_for("hello"))
    assert record["usage"] == {"prompt_tokens": 1, "total_tokens": 1}
    body = wire_server.last.json
    assert body["input"] == "hello"
    assert body["encoding_format"] == "float"
    assert wire_server.last.path.endswith("/embeddings")
    assert ("model" in body) is (provider_config.api_type == "openai")


def test_openai_needs_a_model_for_embeddings(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run("embeddings_single_input", {"configuration": "test", "input": "hi"})

    assert record["error"]["type"] == "validation"
    assert "model" in record["error"]["message"]
    assert wire_server.requests == []


def test_base64_answers_are_decoded_to_floats(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    wire_server.handler = embeddings_answer
    harness = run_job(provider_config)

    record = harness.run(
        "embeddings_single_input",
        {"configuration": "test", "model": "m", "input": "hello", "encoding_format": "base64"},
    )

    assert wire_server.last.json["encoding_format"] == "base64"
    vector = record["output"]["embedding_vector"]
    expected = vector_for("hello")
    assert all(isinstance(x, float) for x in vector)
    assert as_float32(vector) == as_float32(expected)


def test_five_thousand_chunks_are_split_into_requests_and_come_back_in_order(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    # Given answers whose data arrive in reverse order, to prove mapping by index
    wire_server.handler = lambda request: embeddings_answer(request, reverse=True)
    harness = run_job(provider_config)
    chunks = [{"input": f"chunk number {i}", "key": {"doc": i // 100, "i": i}} for i in range(5000)]

    record = harness.run(
        "embeddings_list_input",
        {"configuration": "test", "model": "m", "encoding_format": "base64", "chunks": chunks},
    )

    assert record["success"] is True, record["error"]
    sizes = [len(request.json["input"]) for request in wire_server.requests]
    assert len(sizes) == 3
    assert max(sizes) <= 2048
    assert sum(sizes) == 5000
    out = record["output"]["chunks"]
    assert [c["index"] for c in out] == list(range(5000))
    assert [c["key"] for c in out] == [c["key"] for c in chunks]
    for sent, got in zip(chunks, out, strict=True):
        assert as_float32(got["embedding_vector"]) == as_float32(vector_for(sent["input"]))
    assert record["usage"]["total_tokens"] == 5000


def test_a_chunk_without_a_key_comes_back_with_a_null_key(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    wire_server.handler = embeddings_answer
    harness = run_job(provider_config)

    record = harness.run(
        "embeddings_list_input",
        {
            "configuration": "test",
            "model": "m",
            "chunks": [{"input": "a"}, {"input": "b", "key": 7}],
        },
    )

    assert [(c["index"], c["key"]) for c in record["output"]["chunks"]] == [(0, None), (1, 7)]


def test_requests_stay_within_the_token_budget() -> None:
    counter = TokenCounter()  # the byte-count estimate: never below the true count
    texts = ["x" * 1000] * 10

    batches = plan_batches(texts, counter, max_tokens=3500)

    assert [(b.start, b.stop) for b in batches] == [(0, 3), (3, 6), (6, 9), (9, 10)]


def test_a_chunk_over_the_per_input_limit_is_refused_by_its_index(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    chunks = [{"input": "fine"}, {"input": "word " * 40_000}, {"input": "fine"}]

    record = harness.run(
        "embeddings_list_input", {"configuration": "test", "model": "m", "chunks": chunks}
    )

    assert record["error"]["type"] == "validation"
    assert "index 1" in record["error"]["message"]
    assert wire_server.requests == []


def test_an_answer_missing_vectors_fails_clearly(run_job: Any, wire_server: Any) -> None:
    wire_server.script(Reply(json={"object": "list", "model": "m", "data": [], "usage": None}))
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "embeddings_single_input", {"configuration": "test", "model": "m", "input": "a"}
    )

    assert record["error"]["type"] == "provider"
    assert "0 vectors for 1 inputs" in record["error"]["message"]


def test_a_result_over_the_value_limit_is_refused_before_sending(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    chunks = [{"input": "a"}] * (MAX_RESULT_VALUES // 3072 + 1)

    record = harness.run(
        "embeddings_list_input",
        {"configuration": "test", "model": "m", "dimensions": 3072, "chunks": chunks},
    )

    assert record["error"]["type"] == "validation"
    assert "more than one result can hold" in record["error"]["message"]
    assert wire_server.requests == []


def test_a_result_over_the_value_limit_is_refused_after_the_first_answer(
    run_job: Any, wire_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a limit of 10 values, and more chunks of 3-dimensional vectors than one
    # request takes
    monkeypatch.setattr(embeddings, "MAX_RESULT_VALUES", 10)
    wire_server.handler = embeddings_answer
    harness = run_job(make_configuration("openai", wire_server.url))
    chunks = [{"input": str(i)} for i in range(2049)]

    record = harness.run(
        "embeddings_list_input", {"configuration": "test", "model": "m", "chunks": chunks}
    )

    # Then the first answer tells the size, and no more requests are paid for
    assert record["error"]["type"] == "validation"
    assert "2049 chunks × 3 dimensions" in record["error"]["message"]
    assert len(wire_server.requests) == 1


def test_too_many_chunks_are_refused_at_validation(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "embeddings_list_input",
        {"configuration": "test", "model": "m", "chunks": [{"input": "a"}] * (MAX_CHUNKS + 1)},
    )

    assert record["error"]["type"] == "validation"
    assert "chunks" in record["error"]["message"]
    assert wire_server.requests == []


def test_an_answer_with_a_value_that_is_not_finite_fails_clearly(
    run_job: Any, wire_server: Any
) -> None:
    packed = base64.b64encode(struct.pack("<3f", 0.5, float("inf"), 0.25)).decode()
    answer = {"object": "list", "model": "m", "data": [{"index": 0, "embedding": packed}]}
    wire_server.script(Reply(json=answer))
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "embeddings_single_input",
        {"configuration": "test", "model": "m", "input": "a", "encoding_format": "base64"},
    )

    assert record["error"]["type"] == "provider"
    assert "not finite" in record["error"]["message"]


def test_vectors_keep_every_float32_value_exactly() -> None:
    values = array("f", [0.1, -1e-7, 3.4e38, 1 / 3, -0.0123456789, 0.0])

    text = vector_json(decode_vector(list(values)))

    assert array("f", json.loads(text)) == values
    assert len(text) < len(json.dumps(list(values)))


def test_advanced_sends_the_request_as_given_and_returns_the_whole_answer(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    wire_server.handler = embeddings_answer
    harness = run_job(provider_config)
    request = {"input": ["a", "b"], "model": "m", "dimensions": 3, "new_api_field": True}

    record = harness.run("embeddings_advanced", {"configuration": "test", "request": request})

    assert record["output"]["object"] == "list"
    assert len(record["output"]["data"]) == 2
    sent = wire_server.last.json
    assert sent["new_api_field"] is True
    assert sent["dimensions"] == 3


def test_advanced_refuses_a_malformed_input(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "embeddings_advanced",
        {"configuration": "test", "request": {"model": "m", "input": ["a", 3]}},
    )

    assert record["error"]["type"] == "validation"
    assert wire_server.requests == []


def test_a_provider_error_is_reported_with_its_message(run_job: Any, wire_server: Any) -> None:
    wire_server.script(provider_error(400, "This model's maximum context length is 8192 tokens"))
    harness = run_job(make_configuration("azure_api_key", wire_server.url))

    record = harness.run("embeddings_single_input", {"configuration": "test", "input": "a"})

    assert record["error"]["type"] == "provider"
    assert record["error"]["status_code"] == 400
    assert "8192" in record["error"]["message"]


@pytest.mark.integration
def test_a_job_too_large_for_one_redis_value_comes_back_whole_through_a_real_worker(
    client: Any, start_worker: Any, wire_server: Any, redis_url: str, namespace: str
) -> None:
    # Given 3,000 chunks of 1536 dimensions: about 45 MB of JSON, more than one part
    wire_server.handler = lambda request: embeddings_answer(request, dims=1536)
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker(threads=1)
    chunks = [{"input": f"chunk {i}", "key": f"doc#{i}"} for i in range(3000)]

    job_id = client.submit(
        "embeddings_list_input",
        {"configuration": "test", "model": "m", "encoding_format": "base64", "chunks": chunks},
    )
    record = client.wait(job_id, 120)

    # Then it was stored in parts, and reads back with every vector in input order
    assert record["status"] == "succeeded", record["error"]
    parts = list(redis.Redis.from_url(redis_url).scan_iter(match=f"{namespace}:output:{job_id}:*"))
    assert len(parts) >= 2
    out = record["output"]["chunks"]
    assert [(c["index"], c["key"]) for c in out] == [(i, f"doc#{i}") for i in range(3000)]
    for sent, got in zip(chunks, out, strict=True):
        assert as_float32(got["embedding_vector"]) == as_float32(vector_for(sent["input"], 1536))
    assert len(wire_server.requests) == 2
