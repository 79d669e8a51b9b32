"""The Responses API wire: function tools, tool calls in ``output``, the next ``input``.

Pure functions of requests and responses; the ``responses`` operation puts them
together, and ``ResponsesWire`` lets the shared tool loop (``_tool_loop``) run worker
functions over this API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from worker.errors import ProviderError
from worker.functions import RegisteredFunction
from worker.operations._tool_loop import tools_for

RESPONSES_PATH = "responses"
#: Lets reasoning items go back in ``input`` when the response is not stored.
ENCRYPTED_REASONING = "reasoning.encrypted_content"
#: Output items that ask the caller's side to run something: the loop runs
#: ``function_call`` items of worker functions; a ``custom_tool_call`` is always the
#: caller's (worker functions are never custom tools).
_CALL_ITEMS = ("function_call", "custom_tool_call")


def function_tools(
    functions: dict[str, RegisteredFunction], refs: Sequence[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Worker functions as Responses function tools: the chat ``tools`` entry, flattened.

    ``strict`` is false unless the entry says otherwise: the Responses API makes a tool
    whose ``strict`` is left out strict where it can, which Chat Completions never does,
    and a function should mean the same to the model whichever operation offers it.
    """
    return [
        {"type": "function", "strict": False, **tool["function"]}
        for tool in tools_for(functions, refs)
    ]


def declared_tool_names(tools: Sequence[Any] | None) -> frozenset[str]:
    """The names of the function and custom tools a request declares itself."""
    return frozenset(
        tool["name"]
        for tool in tools or ()
        if isinstance(tool, dict)
        and tool.get("type") in ("function", "custom")
        and isinstance(tool.get("name"), str)
    )


def output_items(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The response's ``output`` items (objects only)."""
    output = response.get("output")
    if not isinstance(output, list):
        return []
    return [item for item in output if isinstance(item, dict)]


def output_text(response: dict[str, Any]) -> str:
    """Every ``output_text`` part of the ``message`` items, joined: the SDKs' ``output_text``."""
    texts: list[str] = []
    for item in output_items(response):
        if item.get("type") != "message" or not isinstance(item.get("content"), list):
            continue
        for part in item["content"]:
            if isinstance(part, dict) and part.get("type") == "output_text":
                texts.append(str(part.get("text") or ""))
    return "".join(texts)


def input_items(value: Any) -> list[Any]:
    """A request's ``input`` as a list of items (a string is one user message)."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return list(value) if isinstance(value, list) else []


class ResponsesWire:
    """Calls are ``function_call`` output items; results go back as ``function_call_output``.

    Each new request repeats the whole conversation: the input so far, every output
    item of the answer (reasoning items included, which a model that reasons needs
    beside its calls) and one output item per call. That works whether or not the
    provider stored the response.
    """

    name = "responses"
    path = RESPONSES_PATH

    def tool_calls(self, response: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "id": item.get("call_id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments")},
            }
            for item in output_items(response)
            if item.get("type") in _CALL_ITEMS
        ]

    def cut_off(self, response: dict[str, Any], names: list[str]) -> ProviderError | None:
        if response.get("status") != "incomplete":
            return None
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return ProviderError(
            f"the response is incomplete (incomplete_details.reason {reason!r}) and holds "
            f"calls of {', '.join(names)}; the calls were not run, their arguments may be "
            "unfinished. Allow more output tokens (max_output_tokens) for this job.",
            details={"status": "incomplete", "reason": reason, "calls": names},
        )

    def follow_up(
        self, body: dict[str, Any], response: dict[str, Any], results: list[dict[str, Any]]
    ) -> dict[str, Any]:
        outputs = [
            {
                "type": "function_call_output",
                "call_id": result["tool_call_id"],
                "output": result["content"],
            }
            for result in results
        ]
        return {
            **body,
            "input": [*input_items(body.get("input")), *output_items(response), *outputs],
        }


RESPONSES_WIRE = ResponsesWire()
