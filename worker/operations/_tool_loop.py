"""The function-calling loop every chat operation runs.

The payload picks registered functions by name; they are offered as ``tools``. While
the model answers with tool calls, the worker runs them, appends the assistant's
message and one ``tool`` message per call, and asks again, until the model answers
or ``OPENAI_WORKER_MAX_TOOL_ROUNDS`` rounds of tool calls are used up (a
``FunctionError``). Token usage is summed over every call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from worker.errors import FunctionError, ValidationError
from worker.functions import RegisteredFunction
from worker.functions.calls import run_tool_calls
from worker.operations._chat import CHAT_PATH, call_names, first_message
from worker.operations.base import JobContext, add_usage

_CHOICE_WORDS = ("auto", "none", "required")


def offered_functions(
    ctx: JobContext, refs: Sequence[dict[str, Any]] | None
) -> dict[str, RegisteredFunction]:
    """The registered functions a payload names; an unregistered name is refused."""
    offered: dict[str, RegisteredFunction] = {}
    unknown: list[str] = []
    for ref in refs or ():
        entry = ctx.functions.get(ref["name"])
        if entry is None:
            unknown.append(ref["name"])
        else:
            offered[entry.name] = entry
    if unknown:
        raise ValidationError(
            "functions not registered with this worker: " + ", ".join(sorted(set(unknown))),
            details={"functions": sorted(set(unknown)), "registered": ctx.functions.names()},
        )
    return offered


def tools_for(
    functions: dict[str, RegisteredFunction], refs: Sequence[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """The ``tools`` entries, with a payload's description overriding the registered one."""
    described = {ref["name"]: ref.get("description") for ref in refs or ()}
    return [entry.tool(described.get(name)) for name, entry in functions.items()]


def wire_tool_choice(choice: str | None) -> Any:
    """``auto``/``none``/``required`` as they are; a function's name as the wire object."""
    if choice is None or choice in _CHOICE_WORDS:
        return choice
    return {"type": "function", "function": {"name": choice}}


def complete_with_tools(
    ctx: JobContext,
    body: dict[str, Any],
    functions: dict[str, RegisteredFunction],
    *,
    caller_tools: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The final chat completion after running every tool call; ``usage`` is the sum.

    A call of one of ``caller_tools`` (tools the caller declared itself, not worker
    functions) ends the loop: that response goes back to the caller to handle.
    """
    max_rounds = ctx.settings.max_tool_rounds
    messages = list(body["messages"])
    usage: dict[str, Any] | None = None
    digest = _digest(body)
    start_round: int = 0
    pending: dict[str, Any] | None = None
    answered: dict[str, str] = {}
    if functions:
        state, answered = ctx.checkpoint.load()
        if state is not None and state.get("digest") == digest:
            # A redelivery of a job interrupted mid-loop: resume where it stopped.
            messages, usage, body = state["messages"], state["usage"], state["body"]
            start_round, pending = state["round"], state["pending"]
            ctx.log.info("chat.tool_loop_resumed", round=start_round + 1, answered=len(answered))
        else:
            answered = {}
    for round_no in range(start_round, max_rounds + 1):
        if pending is not None:
            message, pending = pending, None
        else:
            response = ctx.client.post_json(CHAT_PATH, {**body, "messages": messages})
            usage = add_usage(usage, response.get("usage"))
            message = first_message(response)
            names = call_names(message)
            if not functions or not names or caller_tools.intersection(names):
                if usage is not None:
                    response["usage"] = usage
                return response
            if round_no == max_rounds:
                raise FunctionError(
                    f"the model was still calling functions after {max_rounds} rounds "
                    f"(OPENAI_WORKER_MAX_TOOL_ROUNDS); it last called: {', '.join(names)}",
                    details={"rounds": max_rounds, "last_calls": names},
                )
            # Save the round before running it: a redelivery must not ask the model
            # again (new calls) nor run a call whose result is already saved.
            ctx.checkpoint.save_state(
                {
                    "digest": digest,
                    "messages": messages,
                    "usage": usage,
                    "body": body,
                    "round": round_no,
                    "pending": message,
                }
            )
            answered = {}
        calls = message["tool_calls"]
        ctx.log.info(
            "chat.tool_round", round=round_no + 1, calls=len(calls), functions=call_names(message)
        )
        messages.append(_assistant_turn(message))
        messages.extend(
            run_tool_calls(
                calls, functions, ctx.log, answered=answered, on_result=ctx.checkpoint.save_result
            )
        )
        body = _after_first_round(body)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _digest(body: dict[str, Any]) -> str:
    """Identifies the request a checkpoint belongs to."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _assistant_turn(message: dict[str, Any]) -> dict[str, Any]:
    """The assistant's tool-calling message as the next request must repeat it."""
    return {
        "role": "assistant",
        "content": message.get("content"),
        "tool_calls": message["tool_calls"],
    }


def _after_first_round(body: dict[str, Any]) -> dict[str, Any]:
    # A forced choice (required, or one function) would make the model call tools
    # forever; once it has called them, let it answer.
    choice = body.get("tool_choice")
    if choice is None or choice in ("auto", "none"):
        return body
    return {**body, "tool_choice": "auto"}
