"""chat_completions_advanced: a whole Chat Completions request in, the full response out.

The request's known fields were validated by the payload schema; unknown ones pass
through unchanged. With ``functions`` the worker adds them to the request's ``tools``
and runs the tool loop; the output is then the final response, with ``usage`` summed
over every round. Calls of tools the request declared itself are left to the caller.
"""

from __future__ import annotations

from typing import Any

from worker.catalog import CATALOG
from worker.errors import ValidationError
from worker.operations._tool_loop import complete_with_tools, offered_functions, tools_for
from worker.operations.base import JobContext, Operation, Outcome


def chat_completions_advanced(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """Send the request as given (plus any worker functions) and return the response."""
    request = dict(payload["request"])
    if ctx.sends_model and not request.get("model"):
        raise ValidationError(
            "request.model is required for OpenAI configurations",
            details={"fields": {"request": {"model": ["required"]}}},
        )
    functions = offered_functions(ctx, payload.get("functions"))
    caller_tools = frozenset(
        str((tool.get("function") or {}).get("name"))
        for tool in request.get("tools") or []
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict)
    )
    if functions:
        request["tools"] = [
            *(request.get("tools") or []),
            *tools_for(functions, payload.get("functions")),
        ]
    response = complete_with_tools(ctx, request, functions, caller_tools=caller_tools)
    return Outcome(response, response.get("usage"))


OPERATIONS = [
    Operation(CATALOG["chat_completions_advanced"], chat_completions_advanced),
]
