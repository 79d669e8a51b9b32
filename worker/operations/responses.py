"""responses: a whole Responses API request in, the full response out.

The request's known fields were validated by the payload schema; unknown ones pass
through unchanged. The response is not stored with the provider unless the request
says ``store: true``. With ``functions`` the worker adds them to the request's
``tools`` and runs the shared tool loop; the output is then the final response, with
``usage`` summed over every round. Calls of tools the request declared itself are
left to the caller. ``output_text`` is added, as the SDKs offer it.
"""

from __future__ import annotations

from typing import Any

from worker.catalog import CATALOG
from worker.operations._responses import (
    ENCRYPTED_REASONING,
    RESPONSES_WIRE,
    declared_tool_names,
    function_tools,
    output_text,
)
from worker.operations._tool_loop import complete_with_tools, offered_functions
from worker.operations.base import JobContext, Operation, Outcome


def responses(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """Send the request (plus any worker functions) and return the final response."""
    request = payload["request"]
    body = {key: value for key, value in request.items() if key != "model"}
    body.update(ctx.model_fields(request.get("model")))
    # The worker keeps the result; the provider keeps nothing unless asked to.
    body["store"] = request.get("store") is True
    functions = offered_functions(ctx, payload.get("functions"))
    if functions:
        body["tools"] = [
            *(request.get("tools") or []),
            *function_tools(functions, payload.get("functions")),
        ]
        if not body["store"] and request.get("reasoning") is not None:
            body["include"] = _with_encrypted_reasoning(request.get("include"))
    response = complete_with_tools(
        ctx,
        body,
        functions,
        caller_tools=declared_tool_names(request.get("tools")),
        wire=RESPONSES_WIRE,
    )
    return Outcome({**response, "output_text": output_text(response)}, response.get("usage"))


def _with_encrypted_reasoning(include: list[str] | None) -> list[str]:
    # Unstored reasoning items can only go back to the model with their encrypted
    # content. Asked for only when the request sets `reasoning`: models that do not
    # reason refuse this include.
    listed = list(include or [])
    return listed if ENCRYPTED_REASONING in listed else [*listed, ENCRYPTED_REASONING]


OPERATIONS = [
    Operation(CATALOG["responses"], responses),
]
