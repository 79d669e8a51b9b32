"""Shared chat plumbing: building messages and bodies, calling, reading the answer."""

from __future__ import annotations

from typing import Any

from worker.errors import ProviderError
from worker.operations._tool_loop import (
    CHAT_PATH,
    complete_with_tools,
    offered_functions,
    tools_for,
    wire_tool_choice,
)
from worker.operations.base import JobContext, Outcome

__all__ = ["CHAT_PATH", "answer_output", "chat_body", "run_chat", "user_content"]


def user_content(text: str, images: list[dict[str, Any]] | None) -> Any:
    """A user message's content: plain text, or text and image parts for vision."""
    if not images:
        return text
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    for image in images:
        parts.append(
            {"type": "image_url", "image_url": {"url": image["url"], "detail": image["detail"]}}
        )
    return parts


def request_options(payload: dict[str, Any]) -> dict[str, Any]:
    """The wire fields of the simple chat operations' shared options."""
    body: dict[str, Any] = {}
    if "temperature" in payload:
        body["temperature"] = payload["temperature"]
    if "max_tokens" in payload:
        body["max_tokens"] = payload["max_tokens"]
    if payload.get("response_format"):
        body["response_format"] = {"type": payload["response_format"]}
    return body


def first_choice(response: dict[str, Any]) -> dict[str, Any]:
    """The first choice of a chat completion, or a clear provider error."""
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ProviderError("the chat completion has no choices", retryable=False)
    return choices[0]


def answer_output(response: dict[str, Any]) -> dict[str, Any]:
    """``assistant_response_text`` and how the answer ended, for the simple operations."""
    choice = first_choice(response)
    message = choice.get("message") or {}
    output: dict[str, Any] = {
        "assistant_response_text": message.get("content"),
        "finish_reason": choice.get("finish_reason"),
    }
    if message.get("refusal"):
        output["refusal"] = message["refusal"]
    return output


def chat_body(
    ctx: JobContext, messages: list[dict[str, Any]], payload: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request body of a simple chat operation, and the functions it offers."""
    functions = offered_functions(ctx, payload.get("functions"))
    body = {**ctx.model_fields(payload.get("model")), "messages": messages}
    body.update(request_options(payload))
    if functions:
        body["tools"] = tools_for(functions, payload.get("functions"))
    if payload.get("tool_choice") and functions:
        body["tool_choice"] = wire_tool_choice(payload["tool_choice"])
    return body, functions


def run_chat(ctx: JobContext, messages: list[dict[str, Any]], payload: dict[str, Any]) -> Outcome:
    """Send one conversation, run any tool calls, return the simple operations' output."""
    body, functions = chat_body(ctx, messages, payload)
    response = complete_with_tools(ctx, body, functions)
    return Outcome(answer_output(response), response.get("usage"))
