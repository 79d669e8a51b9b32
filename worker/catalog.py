"""The operations a producer can ask for: name, payload schema and what each does.

Producers (the client, the CLI, later an HTTP API) read this to refuse an unknown
operation or a bad payload before anything is queued, without importing the engine that
runs operations. ``worker.operations`` gives every entry its implementation, and checks
at import that the two lists agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema

from schemas.chat import (
    ChatCompletionsAdvancedSchema,
    ChatCompletionsMultipleSchema,
    ChatCompletionsWithHistorySchema,
    ChatCompletionsWithoutHistorySchema,
    ConfigurationTestSchema,
    SummarizeTextSchema,
)
from schemas.embeddings import (
    EmbeddingsAdvancedSchema,
    EmbeddingsListInputSchema,
    EmbeddingsSingleInputSchema,
)
from schemas.images import ImageGenerationsAdvancedSchema, ImageGenerationsSingleSchema
from schemas.raw import RawRequestSchema
from schemas.responses import ResponsesSchema


@dataclass(frozen=True)
class OperationSpec:
    """What a producer needs to know of an operation."""

    name: str
    schema: type[Schema]
    description: str
    #: Which read timeout its calls get (``Settings.read_timeout_s``).
    timeout: str = "default"
    #: Whether it may run in the batch tier: its calls are independent requests, none
    #: built from another's answer (``None``: it may; else why it may not).
    not_batchable: str | None = None


_SPECS = (
    OperationSpec(
        "chat_completions_without_history",
        ChatCompletionsWithoutHistorySchema,
        "Chat completion from a user prompt and an optional system prompt.",
        timeout="chat",
    ),
    OperationSpec(
        "chat_completions_with_history",
        ChatCompletionsWithHistorySchema,
        "Chat completion continuing a conversation of system, user, assistant and tool messages.",
        timeout="chat",
    ),
    OperationSpec(
        "chat_completions_advanced",
        ChatCompletionsAdvancedSchema,
        "A Chat Completions request in the wire format; the full response.",
        timeout="chat",
    ),
    OperationSpec(
        "responses",
        ResponsesSchema,
        "A Responses API request in the wire format; the full response, with output_text.",
        timeout="chat",
        not_batchable="the Responses API is not among the Batch APIs' endpoints the worker sends",
    ),
    OperationSpec(
        "chat_completions_multiple",
        ChatCompletionsMultipleSchema,
        "Several prompts answered independently; one entry per prompt with its own success.",
        timeout="chat",
    ),
    OperationSpec(
        "summarize_text",
        SummarizeTextSchema,
        "A summary of a text.",
        timeout="chat",
    ),
    OperationSpec(
        "configuration_test",
        ConfigurationTestSchema,
        "Checks that a configuration can reach its provider.",
        timeout="chat",
        not_batchable="a configuration test must reach the provider now",
    ),
    OperationSpec(
        "embeddings_single_input",
        EmbeddingsSingleInputSchema,
        "The embedding vector of one text.",
        timeout="embeddings",
    ),
    OperationSpec(
        "embeddings_list_input",
        EmbeddingsListInputSchema,
        "Embedding vectors of many chunks, in input order with each chunk's key.",
        timeout="embeddings",
    ),
    OperationSpec(
        "embeddings_advanced",
        EmbeddingsAdvancedSchema,
        "A full Embeddings request; the full response.",
        timeout="embeddings",
    ),
    OperationSpec(
        "image_generations_single",
        ImageGenerationsSingleSchema,
        "One generated image, as base64 bytes with its media type.",
        timeout="images",
        not_batchable="the Batch APIs do not generate images",
    ),
    OperationSpec(
        "image_generations_advanced",
        ImageGenerationsAdvancedSchema,
        "A full Images request; the full response.",
        timeout="images",
        not_batchable="the Batch APIs do not generate images",
    ),
    OperationSpec(
        "raw_request",
        RawRequestSchema,
        "Any HTTP request below the configuration's endpoint, with the worker's auth.",
        not_batchable=(
            "a raw request may go to any path; a batch file holds only chat completions "
            "or embeddings"
        ),
    ),
)

#: Operation name → spec, sorted by name.
CATALOG: dict[str, OperationSpec] = {s.name: s for s in sorted(_SPECS, key=lambda s: s.name)}
