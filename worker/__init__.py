"""openai-worker: run OpenAI and Azure OpenAI calls as background jobs.

A producing app needs one import::

    from worker import Client
    job_id = Client().submit("chat_completions_without_history",
                             {"configuration": "main", "model": "gpt-4o-mini",
                              "user_prompt": "Hello"})

and a function-calling module registers functions with ``@function``.
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
    from worker.client import Client


def __getattr__(name: str) -> Any:
    # The client pulls in Redis and Dramatiq; function modules should not need them.
    if name == "Client":
        from worker.client import Client

        return Client
    raise AttributeError(f"module 'worker' has no attribute {name!r}")


__all__ = [
    # producing jobs
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
