"""A stateful local Batch API server (Files + Batches) for tests and the benchmark.

    with serve_batch_api(polls_per_step=2, fail_custom_ids={"job-7"}) as api:
        openai_base = api.openai_base_url     # http://127.0.0.1:PORT/v1
        azure_endpoint = api.url              # …/openai/… and …/openai/v1/…
        ...
        assert api.batches_created == 1

It speaks OpenAI's wire format (``/v1``) and Azure's dated (``/openai``, with
``api-version``) and v1 (``/openai/v1``) layouts, keeps every file on disk, advances
each batch by polls, generates an answer per request that carries its ``custom_id``,
and logs every request it receives. The package ``batch_api`` holds the parts.
"""

from batch_api.answers import embedding_for, text_for
from batch_api.files import BatchRequest
from batch_api.server import DEFAULT_API_KEY, BatchApi, FailRule, RequestRecord, serve_batch_api
from batch_api.wire import Layout

__all__ = [
    # the server
    "serve_batch_api",
    "BatchApi",
    "DEFAULT_API_KEY",
    "FailRule",
    "RequestRecord",
    # what its answers hold
    "Layout",
    "BatchRequest",
    "embedding_for",
    "text_for",
]
