"""The function-calling loop every chat operation runs.

The payload picks registered functions by name; they are offered as ``tools``. While
the model answers with tool calls, the worker runs them, appends the assistant's
message and one ``tool`` message per call, and asks again, until the model answers
or ``OPENAI_WORKER_MAX_TOOL_ROUNDS`` rounds of tool calls are used up (a
``FunctionError``). Token usage is summed over every call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from worker.errors import FunctionError, ProviderError, ValidationError
from worker.functions import RegisteredFunction
from worker.functions.calls import run_tool_calls
from worker.operations._chat import CHAT_PATH, call_names, first_finish_reason, first_message
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
    """The ``tools`` entries; a payload's description and strict override the registered ones."""
    chosen = {ref["name"]: ref for ref in refs or ()}
    return [
        entry.tool(chosen.get(name, {}).get("description"), chosen.get(name, {}).get("strict"))
        for name, entry in functions.items()
    ]


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

    Every round's answer is kept in the job's ledger (``round:N``) and made durable
    before any function runs; every function's result (``tool:ID``) as soon as it
    exists. A redelivery of a job interrupted mid-loop replays both and asks the model
    only what it has not answered, and runs only the calls without a result. (A
    function that was running at the very moment of a crash runs again: at-least-once,
    the best a crash allows.)
    """
    max_rounds = ctx.settings.max_tool_rounds
    messages = list(body["messages"])
    usage: dict[str, Any] | None = None
    for round_no in range(max_rounds + 1):
        response: dict[str, Any] = ctx.calls.answer(
            f"round:{round_no}", _chat_call(ctx, {**body, "messages": messages})
        )
        usage = add_usage(usage, response.get("usage"))
        message = first_message(response)
        names = call_names(message)
        if not functions or not names or caller_tools.intersection(names):
            if usage is not None:
                response["usage"] = usage
            return response
        if first_finish_reason(response) == "length":
            # The answer was cut off mid-call: its arguments are unfinished JSON, and
            # running a function on them (or sending them back) can only go wrong.
            raise ProviderError(
                "the model's answer was cut off by its token budget (finish_reason "
                f"'length') while calling {', '.join(names)}; the calls were not run. "
                "Allow more tokens (max_tokens) for this job.",
                details={"finish_reason": "length", "calls": names},
            )
        if round_no == max_rounds:
            raise FunctionError(
                f"the model was still calling functions after {max_rounds} rounds "
                f"(OPENAI_WORKER_MAX_TOOL_ROUNDS); it last called: {', '.join(names)}",
                details={"rounds": max_rounds, "last_calls": names},
            )
        # The round's answer is durable before a function runs: a redelivery must not
        # ask the model again (new calls) nor run a call whose result is kept.
        ctx.calls.flush()
        calls = message["tool_calls"]
        answered = _answered(ctx, calls)
        ctx.log.info(
            "chat.tool_round",
            round=round_no + 1,
            calls=len(calls),
            functions=names,
            answered=len(answered),
        )
        messages.append(_assistant_turn(message))
        messages.extend(
            run_tool_calls(
                calls,
                functions,
                ctx.log,
                answered=answered,
                on_result=lambda call_id, content: ctx.calls.put_json(
                    f"tool:{call_id}", content, now=True
                ),
            )
        )
        body = _after_first_round(body)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _chat_call(ctx: JobContext, request: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: ctx.client.post_json(CHAT_PATH, request)


def _answered(ctx: JobContext, calls: list[Any]) -> dict[str, str]:
    """The results kept for these tool calls by an earlier delivery, by call id."""
    found: dict[str, str] = {}
    for call in calls:
        call_id = str(call.get("id") or "") if isinstance(call, dict) else ""
        content = ctx.calls.get_json(f"tool:{call_id}") if call_id else None
        if isinstance(content, str):
            found[call_id] = content
    return found


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
