"""The Chat Completions wire: building messages and options, reading an answer.

Pure functions of payloads and answers; sending is the tool loop's (``_tool_loop``),
and putting the two together for the simple chat operations is ``_simple_chat``'s.
"""

from __future__ import annotations

import json
from typing import Any

from schemas.structured import JSON_FORMATS
from worker.errors import ProviderError
from worker.providers import Provider

CHAT_PATH = "chat/completions"
#: The simple operations' options sent as they are, when given.
_PASSED_OPTIONS = ("temperature", "top_p", "reasoning_effort", "verbosity", "response_format")


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


def request_options(payload: dict[str, Any], provider: Provider) -> dict[str, Any]:
    """The wire fields of the simple chat operations' shared options, only those given.

    ``max_tokens`` goes out under the name the configuration's API takes: reasoning
    models refuse ``max_tokens``, older Azure versions and most compatible servers
    know only it.
    """
    body = {key: payload[key] for key in _PASSED_OPTIONS if key in payload}
    if "max_tokens" in payload:
        body[provider.answer_limit_field] = payload["max_tokens"]
    return body


def role_for(role: str, provider: Provider) -> str:
    """``developer`` where the API knows it, else ``system`` (what it replaces)."""
    return "system" if role == "developer" and not provider.developer_role else role


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


def answer_output(response: dict[str, Any], response_format: Any = None) -> dict[str, Any]:
    """``assistant_response_text`` and how the answer ended, for the simple operations.

    With a JSON ``response_format`` the text is parsed into ``assistant_response_json``
    (``None`` when the model refused, which ``refusal`` says). Text that does not parse
    (an answer cut off by the token budget) is a provider error that keeps the text.
    """
    choice = first_choice(response)
    message = choice.get("message") or {}
    content = message.get("content")
    output: dict[str, Any] = {
        "assistant_response_text": content,
        "finish_reason": choice.get("finish_reason"),
    }
    if message.get("refusal"):
        output["refusal"] = message["refusal"]
    if isinstance(response_format, dict) and response_format.get("type") in JSON_FORMATS:
        output["assistant_response_json"] = _parsed(content, output)
    return output


def _parsed(content: Any, output: dict[str, Any]) -> Any:
    if content is None and output.get("refusal"):
        return None
    try:
        return json.loads(content) if isinstance(content, str) else _not_json(output)
    except ValueError:
        return _not_json(output)


def _not_json(output: dict[str, Any]) -> Any:
    reason = output["finish_reason"]
    why = (
        "it was cut off by the token budget (finish_reason 'length'); allow more tokens"
        if reason == "length"
        else f"finish_reason {reason!r}"
    )
    raise ProviderError(
        f"the model's answer is not the JSON the response_format asks for: {why}",
        retryable=False,
        details=output,
    )
