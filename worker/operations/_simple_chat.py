"""One conversation in, the assistant's text out: what the simple chat operations share.

Builds the request from a payload's options and functions, runs it through the tool
loop, and reads the answer as ``assistant_response_text`` and ``finish_reason``.
"""

from __future__ import annotations

from typing import Any

from worker.functions import RegisteredFunction
from worker.operations._chat import answer_output, request_options
from worker.operations._tool_loop import (
    complete_with_tools,
    offered_functions,
    tools_for,
    wire_tool_choice,
)
from worker.operations.base import JobContext, Outcome


def chat_body(
    ctx: JobContext, messages: list[dict[str, Any]], payload: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, RegisteredFunction]]:
    """The request body of a simple chat operation, and the functions it offers."""
    functions = offered_functions(ctx, payload.get("functions"))
    body = {**ctx.model_fields(payload.get("model")), "messages": messages}
    body.update(request_options(payload, ctx.client.provider))
    if functions:
        body["tools"] = tools_for(functions, payload.get("functions"))
    if payload.get("tool_choice") and functions:
        body["tool_choice"] = wire_tool_choice(payload["tool_choice"])
    return body, functions


def run_chat(ctx: JobContext, messages: list[dict[str, Any]], payload: dict[str, Any]) -> Outcome:
    """Send one conversation, run any tool calls, return the simple operations' output."""
    body, functions = chat_body(ctx, messages, payload)
    response = complete_with_tools(ctx, body, functions)
    return Outcome(answer_output(response, payload.get("response_format")), response.get("usage"))
