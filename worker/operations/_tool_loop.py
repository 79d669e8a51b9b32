"""The function-calling loop every chat operation runs, and the ``responses`` one too.

The payload picks registered functions by name; they are offered as ``tools``. While
the model answers with tool calls, the worker runs them, continues the conversation
with the answer and one result per call, and asks again, until the model answers or
``OPENAI_WORKER_MAX_TOOL_ROUNDS`` rounds of tool calls are used up (a
``FunctionError``). Token usage is summed over every call.

The loop is the same for every API; a ``ToolWire`` says how one API's answers hold
tool calls and how its next request carries their results: ``ChatWire`` here (the
assistant's message and ``tool`` messages), ``_responses.ResponsesWire`` for the
Responses API (output items and ``function_call_output`` items).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from worker.errors import FunctionError, ProviderError, ValidationError
from worker.functions import RegisteredFunction
from worker.functions.calls import run_tool_calls
from worker.operations._chat import CHAT_PATH, first_finish_reason, first_message
from worker.operations.base import JobContext, add_usage

_CHOICE_WORDS = ("auto", "none", "required")


class ToolWire(Protocol):
    """How one API's answers hold tool calls, and how its next request carries results."""

    #: Names the round's log event (``chat.tool_round``).
    name: str
    #: Where the requests go (``chat/completions``).
    path: str

    def tool_calls(self, response: dict[str, Any]) -> list[dict[str, Any]]:
        """The answer's calls, shaped as ``run_tool_calls`` takes them (``id``, ``function``)."""

    def cut_off(self, response: dict[str, Any], names: list[str]) -> ProviderError | None:
        """The error to fail with when the answer was cut off while calling ``names``."""

    def follow_up(
        self, body: dict[str, Any], response: dict[str, Any], results: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The next request: ``body`` continued by the answer and the ``tool`` messages."""


class ChatWire:
    """Chat Completions: ``tool_calls`` on the first choice's message, ``tool`` messages back."""

    name = "chat"
    path = CHAT_PATH

    def tool_calls(self, response: dict[str, Any]) -> list[dict[str, Any]]:
        calls = first_message(response).get("tool_calls")
        return calls if isinstance(calls, list) else []

    def cut_off(self, response: dict[str, Any], names: list[str]) -> ProviderError | None:
        if first_finish_reason(response) != "length":
            return None
        return ProviderError(
            "the model's answer was cut off by its token budget (finish_reason "
            f"'length') while calling {', '.join(names)}; the calls were not run. "
            "Allow more tokens (max_tokens) for this job.",
            details={"finish_reason": "length", "calls": names},
        )

    def follow_up(
        self, body: dict[str, Any], response: dict[str, Any], results: list[dict[str, Any]]
    ) -> dict[str, Any]:
        message = first_message(response)
        assistant = {
            "role": "assistant",
            "content": message.get("content"),
            "tool_calls": message["tool_calls"],
        }
        return {**body, "messages": [*body["messages"], assistant, *results]}


CHAT_WIRE = ChatWire()


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
    tools = []
    for name, entry in functions.items():
        ref = chosen.get(name, {})
        tools.append(entry.tool(ref.get("description"), ref.get("strict")))
    return tools


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
    wire: ToolWire = CHAT_WIRE,
) -> dict[str, Any]:
    """The final answer after running every tool call; ``usage`` is the sum.

    A call of one of ``caller_tools`` (tools the caller declared itself, not worker
    functions) ends the loop: that answer goes back to the caller to handle.

    Every round's answer is kept in the job's ledger (``round:N``) and made durable
    before any function runs; every function's result (``tool:ID``) as soon as it
    exists. A redelivery of a job interrupted mid-loop replays both and asks the model
    only what it has not answered, and runs only the calls without a result. (A
    function that was running at the very moment of a crash runs again: at-least-once,
    the best a crash allows.)
    """
    max_rounds = ctx.settings.max_tool_rounds
    usage: dict[str, Any] | None = None
    for round_no in range(max_rounds + 1):
        response: dict[str, Any] = ctx.calls.answer(
            f"round:{round_no}", _call(ctx, wire.path, body)
        )
        usage = add_usage(usage, response.get("usage"))
        calls = wire.tool_calls(response)
        names = [_call_name(call) for call in calls]
        if not functions or not names or caller_tools.intersection(names):
            if usage is not None:
                response["usage"] = usage
            return response
        # An answer cut off mid-call has unfinished JSON for arguments: running a
        # function on them (or sending them back) can only go wrong.
        cut_off = wire.cut_off(response, names)
        if cut_off is not None:
            raise cut_off
        if round_no == max_rounds:
            raise FunctionError(
                f"the model was still calling functions after {max_rounds} rounds "
                f"(OPENAI_WORKER_MAX_TOOL_ROUNDS); it last called: {', '.join(names)}",
                details={"rounds": max_rounds, "last_calls": names},
            )
        # The round's answer is durable before a function runs: a redelivery must not
        # ask the model again (new calls) nor run a call whose result is kept.
        ctx.calls.flush()
        answered = _answered(ctx, calls)
        ctx.log.info(
            f"{wire.name}.tool_round",
            round=round_no + 1,
            calls=len(calls),
            functions=names,
            answered=len(answered),
        )
        results = run_tool_calls(
            calls,
            functions,
            ctx.log,
            answered=answered,
            on_result=lambda call_id, content: ctx.calls.put_json(
                f"tool:{call_id}", content, now=True
            ),
        )
        body = _after_first_round(wire.follow_up(body, response, results))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _call(ctx: JobContext, path: str, request: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: ctx.client.post_json(path, request)


def _call_name(call: Any) -> str:
    spec = call.get("function") if isinstance(call, dict) else None
    return str(spec.get("name")) if isinstance(spec, dict) else "?"


def _answered(ctx: JobContext, calls: list[Any]) -> dict[str, str]:
    """The results kept for these tool calls by an earlier delivery, by call id."""
    found: dict[str, str] = {}
    for call in calls:
        call_id = str(call.get("id") or "") if isinstance(call, dict) else ""
        content = ctx.calls.get_json(f"tool:{call_id}") if call_id else None
        if isinstance(content, str):
            found[call_id] = content
    return found


def _after_first_round(body: dict[str, Any]) -> dict[str, Any]:
    # A forced choice (required, or one function) would make the model call tools
    # forever; once it has called them, let it answer.
    choice = body.get("tool_choice")
    if choice is None or choice in ("auto", "none"):
        return body
    return {**body, "tool_choice": "auto"}
