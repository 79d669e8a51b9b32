"""Shared chat plumbing: building messages and bodies, calling, reading the answer."""

from __future__ import annotations

from typing import Any

from worker.errors import ProviderError, ValidationError
from worker.operations.base import JobContext, Outcome

CHAT_PATH = "chat/completions"


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


def run_chat(ctx: JobContext, messages: list[dict[str, Any]], payload: dict[str, Any]) -> Outcome:
    """Send one conversation and return the simple operations' output."""
    if payload.get("functions"):
        unknown = [f["name"] for f in payload["functions"] if ctx.functions.get(f["name"]) is None]
        if unknown:
            raise ValidationError(
                "functions not registered with this worker: " + ", ".join(sorted(unknown))
            )
    body = {**ctx.model_fields(payload.get("model")), "messages": messages}
    body.update(request_options(payload))
    response = ctx.client.post_json(CHAT_PATH, body)
    return Outcome(answer_output(response), response.get("usage"))
