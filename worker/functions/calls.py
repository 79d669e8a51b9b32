"""Running the tool calls a model asked for and turning each into a ``tool`` message.

Whatever goes wrong with one call (arguments that are not JSON, a name the job did not
offer, a function that raises) becomes that call's result text, so the model can see
the problem and recover; it is logged too. The calls of one round run in parallel on a
small thread pool, and the messages come back in the order of the calls.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog

from worker.functions.registry import RegisteredFunction
from worker.turns import TURNS

#: The most tool calls of one round that run at the same time.
MAX_PARALLEL_CALLS = 8
_log = structlog.get_logger("worker.functions")


class ToolCallProblem(Exception):
    """A tool call the worker could not run as asked; the message goes to the model."""


@TURNS.away()  # a function may wait on anything; the job's thread waits for them
def run_tool_calls(
    tool_calls: Sequence[Any],
    functions: Mapping[str, RegisteredFunction],
    log: Any = None,
    *,
    answered: Mapping[str, str] | None = None,
    on_result: Callable[[str, str], None] | None = None,
) -> list[dict[str, Any]]:
    """One ``tool`` message per call, in call order; calls run in parallel.

    A call whose id is in ``answered`` (results saved before a redelivery) is not run
    again; ``on_result`` hears of every new result as soon as it exists.
    """
    log = log or _log
    answered = answered or {}

    def one(call: Any) -> dict[str, Any]:
        call_id = str(call.get("id") or "") if isinstance(call, dict) else ""
        if call_id and call_id in answered:
            return {"role": "tool", "tool_call_id": call_id, "content": answered[call_id]}
        message = _tool_message(call, functions, log)
        if on_result is not None and call_id:
            on_result(call_id, message["content"])
        return message

    if len(tool_calls) <= 1:
        return [one(call) for call in tool_calls]
    workers = min(len(tool_calls), MAX_PARALLEL_CALLS)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tool-call") as pool:
        # Each call runs in a copy of this thread's context, so log lines keep the job id.
        futures = [pool.submit(contextvars.copy_context().run, one, call) for call in tool_calls]
        return [future.result() for future in futures]


def _tool_message(
    call: Any, functions: Mapping[str, RegisteredFunction], log: Any
) -> dict[str, Any]:
    call = call if isinstance(call, dict) else {}
    spec = call.get("function") if isinstance(call.get("function"), dict) else {}
    name = str(spec.get("name") or "")
    call_id = str(call.get("id") or "")
    try:
        content = call_function(functions, name, spec.get("arguments"))
    except ToolCallProblem as problem:
        log.warning(
            "function.call_refused", function=name, tool_call_id=call_id, error=str(problem)
        )
        content = f"Error: {problem}"
    except Exception as exc:  # the function's own failure: tell the model, keep going
        log.warning(
            "function.raised",
            function=name,
            tool_call_id=call_id,
            error_class=type(exc).__name__,
            error=str(exc),
            exc_info=True,
        )
        content = f"Error: function {name!r} raised {type(exc).__name__}: {exc}"
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def call_function(functions: Mapping[str, RegisteredFunction], name: str, arguments: Any) -> str:
    """Call ``name`` with the model's ``arguments`` string; the result as text."""
    entry = functions.get(name)
    if entry is None:
        offered = ", ".join(sorted(functions)) or "none"
        raise ToolCallProblem(f"unknown function {name!r}; the functions offered are: {offered}")
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    if entry.takes_raw_arguments:
        result = entry.func(raw_argument(raw))
    else:
        result = entry.func(**keyword_arguments(name, raw))
    return result if isinstance(result, str) else json.dumps(result, default=str)


def keyword_arguments(name: str, raw: str) -> dict[str, Any]:
    """The model's arguments as keywords: they must be a JSON object."""
    try:
        parsed = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise ToolCallProblem(f"the arguments for {name!r} are not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise ToolCallProblem(f"the arguments for {name!r} must be a JSON object")
    return parsed


def raw_argument(raw: str) -> str:
    """What a one-string function gets.

    Such a function is offered with a single string parameter ``arguments``; when the
    model fills exactly that, the function gets the string itself, otherwise the raw
    argument text as the model sent it.
    """
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(parsed, dict) and set(parsed) == {"arguments"}:
        value = parsed["arguments"]
        return value if isinstance(value, str) else json.dumps(value)
    return raw
