"""openai-worker: run OpenAI and Azure OpenAI calls as background jobs.

A producing app needs one import::

    from worker import Client
    job_id = Client().submit("chat_completions_without_history",
                             {"configuration": "main", "model": "gpt-4o-mini",
                              "user_prompt": "Hello"})

``AsyncClient`` does the same from asyncio code (``await client.submit(…)``), and a
function-calling module registers functions with ``@function``.
"""

from typing import TYPE_CHECKING, Any

from worker.errors import (
    ConfigurationError,
    FunctionError,
    InternalError,
    ProviderError,
    TransportError,
    ValidationError,
    WorkerError,
)
from worker.functions import function
from worker.settings import Settings

if TYPE_CHECKING:
    from worker.async_client import AsyncClient
    from worker.client import Client


def __getattr__(name: str) -> Any:
    # The clients pull in Redis and Dramatiq; function modules should not need them.
    if name == "Client":
        from worker.client import Client

        return Client
    if name == "AsyncClient":
        from worker.async_client import AsyncClient

        return AsyncClient
    raise AttributeError(f"module 'worker' has no attribute {name!r}")


__all__ = [
    # producing jobs
    "AsyncClient",
    "Client",
    "Settings",
    # function calling
    "function",
    # errors, one per result error.type
    "ConfigurationError",
    "FunctionError",
    "InternalError",
    "ProviderError",
    "TransportError",
    "ValidationError",
    "WorkerError",
]
