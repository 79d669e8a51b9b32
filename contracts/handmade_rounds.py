"""Hand-made answers of today's shapes: tool-calling rounds and Responses API bodies.

Written against OpenAI's spec: ``CreateChatCompletionResponse`` with
``ChatCompletionMessageToolCall``, and ``Response`` (every field its ``required`` lists,
with ``FunctionToolCall`` and ``OutputMessage`` items and ``ResponseUsage``).
``handmade.py`` wraps them as ``Handmade`` answers; a case naming several of them in
``ContractCase.rounds`` gets one per request, in order, and the worker sees each while
recording, so the mock validates the next round's request too.
"""

from __future__ import annotations

from typing import Any

MODEL = "gpt-5-mini-2025-08-07"
#: What the contracts' registered ``get_weather`` is called with.
PARIS = '{"city":"Paris"}'
_USAGE = {"prompt_tokens": 61, "completion_tokens": 18, "total_tokens": 79}


def chat_tool_call(call_id: str, *, created: int) -> dict[str, Any]:
    """A chat completion whose answer is one call of ``get_weather``."""
    return {
        "id": f"chatcmpl-contract{created}",
        "object": "chat.completion",
        "created": created,
        "model": MODEL,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": None,
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": PARIS},
                        }
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": _USAGE,
    }


def response(output: list[dict[str, Any]], *, created: int) -> dict[str, Any]:
    """A completed Responses API answer with these output items."""
    return {
        "id": f"resp_contract{created}",
        "object": "response",
        "created_at": created,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": MODEL,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": "low", "summary": None},
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "metadata": {},
        "usage": {
            "input_tokens": 52,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 84,
            "output_tokens_details": {"reasoning_tokens": 64},
            "total_tokens": 136,
        },
    }


def message(text: str, item_id: str) -> dict[str, Any]:
    """An assistant ``message`` output item holding one ``output_text`` part."""
    return {
        "type": "message",
        "id": item_id,
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def function_call(call_id: str, item_id: str) -> dict[str, Any]:
    """A ``function_call`` output item calling ``get_weather``."""
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": "get_weather",
        "arguments": PARIS,
        "status": "completed",
    }


SUNNY = "It is sunny in Paris, 21 °C."
HELLO = "Hello! How can I help you today?"
