"""The simple chat operations: a prompt or a conversation in, the assistant's text out.

Each runs the function-calling loop when the payload names ``functions``, and its
output keeps ``finish_reason`` so a cut-off (``length``) or filtered
(``content_filter``) answer can be told from a complete one.
"""

from __future__ import annotations

from typing import Any

from worker.catalog import CATALOG
from worker.operations._chat import role_for, user_content
from worker.operations._simple_chat import run_chat
from worker.operations.base import JobContext, Operation, Outcome
from worker.providers import Provider


def chat_completions_without_history(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """A system prompt (optional) and one user prompt, with images for vision."""
    messages: list[dict[str, Any]] = []
    if payload.get("system_prompt"):
        messages.append({"role": "system", "content": payload["system_prompt"]})
    messages.append(
        {"role": "user", "content": user_content(payload["user_prompt"], payload.get("images"))}
    )
    return run_chat(ctx, messages, payload)


def chat_completions_with_history(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """A conversation so far, in order; the model answers its last message."""
    provider = ctx.client.provider
    return run_chat(ctx, [wire_message(m, provider) for m in payload["messages"]], payload)


def wire_message(message: dict[str, Any], provider: Provider) -> dict[str, Any]:
    """A payload message in the Chat Completions wire format this provider takes."""
    wire: dict[str, Any] = {"role": role_for(message["role"], provider)}
    if message["role"] == "user":
        wire["content"] = user_content(message["content"], message.get("images"))
    else:
        wire["content"] = message.get("content")
    for key in ("name", "tool_call_id", "tool_calls"):
        if message.get(key):
            wire[key] = message[key]
    return wire


#: The system instruction of ``summarize_text`` unless the payload gives ``instructions``.
SUMMARY_INSTRUCTIONS = (
    "Summarize the text the user sends. Keep the key facts, names and figures; leave out "
    "repetition and detail. Answer with the summary only, in the language of the text."
)


def summarize_text(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """A summary of ``text``, by a system instruction the payload may replace."""
    messages = [
        {"role": "system", "content": payload.get("instructions") or SUMMARY_INSTRUCTIONS},
        {"role": "user", "content": payload["text"]},
    ]
    outcome = run_chat(ctx, messages, payload)
    output = dict(outcome.output)
    output["summary"] = output.pop("assistant_response_text")
    return Outcome(output, outcome.usage)


def configuration_test(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """A short chat call: success says the endpoint, key and deployment or model work."""
    messages = [{"role": "user", "content": payload["user_prompt"]}]
    return run_chat(ctx, messages, payload)


OPERATIONS = [
    Operation(CATALOG["chat_completions_without_history"], chat_completions_without_history),
    Operation(CATALOG["chat_completions_with_history"], chat_completions_with_history),
    Operation(CATALOG["summarize_text"], summarize_text),
    Operation(CATALOG["configuration_test"], configuration_test),
]
