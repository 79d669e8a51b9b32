"""The embeddings operations: one text, any number of chunks, or a whole request."""

from __future__ import annotations

from array import array
from typing import Any

from worker.catalog import CATALOG
from worker.errors import ProviderError, ValidationError
from worker.operations._embedding_batches import Batch, plan_batches
from worker.operations._tokens import token_counter
from worker.operations._vectors import (
    ChunkVectors,
    decode_vector,
    pack_vectors,
    unpack_vectors,
    vector_floats,
)
from worker.operations.base import JobContext, Operation, Outcome, add_usage

EMBEDDINGS_PATH = "embeddings"
#: Most vector values (chunks × dimensions) one result holds: about 150 MB of JSON in
#: Redis and 0.5 GB of worker memory at the peak (figures in the README).
MAX_RESULT_VALUES = 100_000_000


def _options(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Model (required by OpenAI), encoding format, dimensions and user for the body."""
    body = ctx.model_fields(payload.get("model"))
    body["encoding_format"] = payload["encoding_format"]
    for name in ("dimensions", "user"):
        if name in payload:
            body[name] = payload[name]
    return body


def _vectors(response: dict[str, Any], count: int) -> list[array[float]]:
    """The answer's vectors in input order, checked to cover every input once."""
    data = response.get("data")
    if not isinstance(data, list) or len(data) != count:
        got = len(data) if isinstance(data, list) else "no"
        raise ProviderError(f"the embeddings answer has {got} vectors for {count} inputs")
    ordered: list[array[float] | None] = [None] * count
    for item in data:
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < count or ordered[index] is not None:
            raise ProviderError("the embeddings answer has missing or repeated indexes")
        ordered[index] = decode_vector(item.get("embedding"))
    return [vector for vector in ordered if vector is not None]


def _check_result_size(chunks: int, dimensions: int) -> None:
    if chunks * dimensions > MAX_RESULT_VALUES:
        raise ValidationError(
            f"{chunks} chunks × {dimensions} dimensions is more than one result can hold "
            f"({MAX_RESULT_VALUES} values); split the chunks over several jobs "
            "or ask for fewer `dimensions`",
            details={"chunks": chunks, "dimensions": dimensions},
        )


def embeddings_single_input(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """One text in, its vector out."""
    plan_batches([payload["input"]], token_counter())  # refuses an over-long input
    body = {**_options(ctx, payload), "input": payload["input"]}
    response = ctx.calls.answer("call", lambda: ctx.client.post_json(EMBEDDINGS_PATH, body))
    [vector] = _vectors(response, 1)
    return Outcome({"embedding_vector": vector_floats(vector)}, response.get("usage"))


def embeddings_list_input(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """Chunks in any number, sent in batches; each vector returns with its chunk's key."""
    chunks = payload["chunks"]
    if "dimensions" in payload:
        _check_result_size(len(chunks), payload["dimensions"])
    texts = [chunk["input"] for chunk in chunks]
    batches = plan_batches(texts, token_counter())
    options = _options(ctx, payload)
    output = ChunkVectors([chunk["key"] for chunk in chunks])
    usage: dict[str, Any] | None = None
    for number, batch in enumerate(batches):
        vectors, batch_usage = _batch(ctx, number, options, texts, batch)
        usage = add_usage(usage, batch_usage)
        if number == 0 and vectors:
            # Checked after the first answer, before paying for the rest.
            _check_result_size(len(chunks), len(vectors[0]))
        output.extend(vectors)
        ctx.log.info(
            "embeddings.batch_done", batch=number + 1, batches=len(batches), inputs=len(vectors)
        )
    return Outcome(output, usage)


def _batch(
    ctx: JobContext, number: int, options: dict[str, Any], texts: list[str], batch: Batch
) -> tuple[list[array[float]], dict[str, Any] | None]:
    """One batch's vectors and usage: from the ledger, or from the provider (then kept).

    The ledger keeps the float32 vectors, not the answer's JSON (about eight times the
    size), so a job put back in line after batch k resends none of batches 1…k.
    """
    key = f"batch:{number}"
    kept = ctx.calls.get_bytes(key)
    if kept is not None:
        vectors, usage = unpack_vectors(kept)
        return vectors, usage
    ctx.calls.flush()  # the batches answered so far are durable before paying for this one
    with ctx.calls.paying(key):
        response = ctx.client.post_json(
            EMBEDDINGS_PATH, {**options, "input": texts[batch.start : batch.stop]}
        )
    vectors = _vectors(response, batch.stop - batch.start)
    usage = response.get("usage")
    # The parsed answer takes about eight times the room of its float32 vectors:
    # let it go before the next one arrives.
    del response
    ctx.calls.put_bytes(key, pack_vectors(vectors, usage))
    return vectors, usage


def embeddings_advanced(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """A whole Embeddings request as given; the whole answer back."""
    request = payload["request"]
    if ctx.sends_model and not request.get("model"):
        raise ValidationError(
            "request.model is required for OpenAI configurations",
            details={"request": {"model": ["required"]}},
        )
    response = ctx.calls.answer("call", lambda: ctx.client.post_json(EMBEDDINGS_PATH, request))
    return Outcome(response, response.get("usage"))


OPERATIONS = [
    Operation(CATALOG["embeddings_single_input"], embeddings_single_input),
    Operation(CATALOG["embeddings_list_input"], embeddings_list_input),
    Operation(CATALOG["embeddings_advanced"], embeddings_advanced),
]
