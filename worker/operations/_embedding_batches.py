"""Splitting many texts into Embeddings requests the API accepts.

The API takes at most 2048 inputs per request, at most 8192 tokens per input and about
300,000 tokens summed over one request (``CreateEmbeddingRequest`` in the OpenAI spec).
Batches are consecutive runs of the input, so each answer maps back by offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from worker.errors import ValidationError
from worker.operations._tokens import TokenCounter

MAX_INPUTS_PER_REQUEST = 2048
MAX_TOKENS_PER_INPUT = 8192
#: The API's summed limit is 300,000; a margin absorbs differences between encodings.
MAX_TOKENS_PER_REQUEST = 280_000


@dataclass(frozen=True)
class Batch:
    """Inputs ``start`` to ``stop`` (exclusive) of the whole list."""

    start: int
    stop: int


def plan_batches(
    texts: Sequence[str],
    counter: TokenCounter,
    *,
    max_inputs: int = MAX_INPUTS_PER_REQUEST,
    max_tokens: int = MAX_TOKENS_PER_REQUEST,
    max_tokens_per_input: int = MAX_TOKENS_PER_INPUT,
) -> list[Batch]:
    """Consecutive batches within both limits; refuse an input over the per-input limit."""
    too_long = [i for i, text in enumerate(texts) if counter.lower(text) > max_tokens_per_input]
    if too_long:
        shown = ", ".join(str(i) for i in too_long[:20])
        more = f" and {len(too_long) - 20} more" if len(too_long) > 20 else ""
        raise ValidationError(
            f"chunks over the model's limit of {max_tokens_per_input} tokens per input: "
            f"index {shown}{more}; split them into smaller chunks",
            details={"chunk_indexes": too_long},
        )
    batches: list[Batch] = []
    start, tokens = 0, 0
    for index, text in enumerate(texts):
        # An upper estimate above the per-input limit can only be an estimate: the API
        # refuses such an input anyway, so it never needs more than the limit's room.
        cost = min(counter.upper(text), max_tokens_per_input)
        if index > start and (index - start >= max_inputs or tokens + cost > max_tokens):
            batches.append(Batch(start, index))
            start, tokens = index, 0
        tokens += cost
    batches.append(Batch(start, len(texts)))
    return batches
