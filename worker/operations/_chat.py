"""The Chat Completions wire: building messages and options, reading an answer.

Pure functions of payloads and answers; sending is the tool loop's (``_tool_loop``),
and putting the two together for the simple chat operations is ``_simple_chat``'s.
"""

from __future__ import annotations

from typing import Any

from worker.errors import ProviderError

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


def first_message(response: dict[str, Any]) -> dict[str, Any]:
    """The first choice's message, or ``{}`` when the answer has none."""
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict):
            return message
    return {}


def first_finish_reason(response: dict[str, Any]) -> str | None:
    """How the first choice ended (``stop``, ``length``, ``tool_calls``…), if it says."""
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        reason = choices[0].get("finish_reason")
        return reason if isinstance(reason, str) else None
    return None


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
