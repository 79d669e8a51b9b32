"""chat_completions_multiple: many prompts, each answered on its own, in one result.

Every prompt is its own conversation (the shared system prompt, then the prompt) and
runs the same options, functions included. One prompt failing does not fail the
others: its entry has ``success: false`` and the error. A retryable failure (429, 5xx,
a timeout) is retried inline a few times with the policy's backoff, so the prompts
that were answered are not sent again; a wait longer than ``retries.INLINE`` allows is
not held in a worker thread, the prompt is reported failed instead. The job fails only
when every prompt failed; it is then retried as a whole if every failure was retryable.
Each prompt keeps its calls in its own part of the job's ledger (``prompt:N/``), so a
later delivery (after a rate-limit wait, a crash) sends only the prompts, tool rounds
included, that have no answer yet.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from worker.catalog import CATALOG
from worker.errors import ValidationError, WorkerError
from worker.operations._simple_chat import run_chat
from worker.operations._tool_loop import offered_functions
from worker.operations.base import JobContext, Operation, Outcome, add_usage
from worker.retries import INLINE, RetryPolicy
from worker.turns import TURNS

#: Prompts of one job sent at the same time.
MAX_PARALLEL_PROMPTS = 4


@dataclass
class _Answer:
    entry: dict[str, Any]
    usage: dict[str, Any] | None = None
    error: WorkerError | None = None


def chat_completions_multiple(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """Answer every prompt; the output lists each answer in prompt order."""
    # Payload problems concern every prompt alike: refuse the job before sending any.
    ctx.model_fields(payload.get("model"))
    offered_functions(ctx, payload.get("functions"))
    policy = INLINE.prompt_policy(RetryPolicy.from_settings(ctx.settings))
    prompts: list[str] = payload["prompts"]
    workers = min(len(prompts), MAX_PARALLEL_PROMPTS)
    # The prompts' threads hold no turn; this one waits for them without one.
    with TURNS.away(), ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prompt") as pool:
        futures = [
            pool.submit(contextvars.copy_context().run, _answer, ctx, payload, policy, i, p)
            for i, p in enumerate(prompts)
        ]
        answers = [future.result() for future in futures]
    usage: dict[str, Any] | None = None
    for answer in answers:
        usage = add_usage(usage, answer.usage)
    entries = [answer.entry for answer in answers]
    errors = [answer.error for answer in answers if answer.error is not None]
    if len(errors) == len(answers):
        raise _all_failed(errors, entries)
    return Outcome({"responses": entries}, usage)


def _answer(
    ctx: JobContext, payload: dict[str, Any], policy: RetryPolicy, index: int, prompt: str
) -> _Answer:
    # Prompts run side by side: each answer is made durable at once (``eager``).
    ctx = replace(ctx, calls=ctx.calls.scoped(f"prompt:{index}", eager=True))
    messages: list[dict[str, Any]] = []
    if payload.get("system_prompt"):
        messages.append({"role": "system", "content": payload["system_prompt"]})
    messages.append({"role": "user", "content": prompt})
    retries = 0
    while True:
        try:
            outcome = run_chat(ctx, messages, payload)
        except ValidationError:
            raise
        except WorkerError as exc:
            wait_s = INLINE.prompt_wait_s(policy, retries, exc.retryable, exc.retry_after_s)
            if wait_s is not None:
                ctx.log.warning(
                    "chat.prompt_retrying", index=index, error=exc.message, delay_s=round(wait_s, 3)
                )
                TURNS.sleep(wait_s)
                retries += 1
                continue
            ctx.log.warning(
                "chat.prompt_failed", index=index, error_type=exc.error_type, error=exc.message
            )
            entry = {
                "index": index,
                "success": False,
                "assistant_response_text": None,
                "finish_reason": None,
                "error": exc.as_dict(),
            }
            return _Answer(entry, error=exc)
        entry = {"index": index, "success": True, **outcome.output, "error": None}
        return _Answer(entry, outcome.usage)


def _all_failed(errors: list[WorkerError], entries: list[dict[str, Any]]) -> WorkerError:
    """One error for the job, of the first failure's type, listing every prompt's error."""
    first = errors[0]
    retryable = all(error.retryable for error in errors)
    waits = [error.retry_after_s for error in errors if error.retry_after_s is not None]
    return type(first)(
        f"all {len(errors)} prompts failed; the first: {first.message}",
        status_code=first.status_code,
        retryable=retryable,
        retry_after_s=max(waits) if retryable and waits else None,
        details={"responses": entries},
    )


OPERATIONS = [Operation(CATALOG["chat_completions_multiple"], chat_completions_multiple)]
