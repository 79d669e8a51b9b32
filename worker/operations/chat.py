"""The simple chat operations: one prompt in, the assistant's text out."""

from __future__ import annotations

from typing import Any

from schemas.chat import ChatCompletionsWithoutHistorySchema, ConfigurationTestSchema
from worker.operations._chat import run_chat, user_content
from worker.operations.base import JobContext, Operation, Outcome


def chat_completions_without_history(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """A system prompt (optional) and one user prompt, with images for vision."""
    messages: list[dict[str, Any]] = []
    if payload.get("system_prompt"):
        messages.append({"role": "system", "content": payload["system_prompt"]})
    messages.append(
        {"role": "user", "content": user_content(payload["user_prompt"], payload.get("images"))}
    )
    return run_chat(ctx, messages, payload)


def configuration_test(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """A short chat call: success says the endpoint, key and deployment or model work."""
    messages = [{"role": "user", "content": payload["user_prompt"]}]
    return run_chat(ctx, messages, payload)


OPERATIONS = [
    Operation(
        "chat_completions_without_history",
        ChatCompletionsWithoutHistorySchema,
        chat_completions_without_history,
        "Chat completion from a user prompt and an optional system prompt.",
    ),
    Operation(
        "configuration_test",
        ConfigurationTestSchema,
        configuration_test,
        "Checks that a configuration can reach its provider.",
    ),
]
