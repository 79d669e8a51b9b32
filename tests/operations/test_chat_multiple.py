"""chat_completions_multiple: each prompt answered on its own; one failure spoils nothing."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from support import Reply, chat_completion, make_configuration, provider_error


def prompt_of(request: Any) -> str:
    return str(request.json["messages"][-1]["content"])


def answer_by_prompt(failures: dict[str, list[Reply]] | None = None) -> Any:
    """A handler answering each prompt with its echo, after that prompt's scripted failures."""
    failures = failures or {}
    lock = threading.Lock()

    def handle(request: Any) -> Reply:
        prompt = prompt_of(request)
        with lock:
            pending = failures.get(prompt) or []
            if pending:
                return pending.pop(0)
        return Reply(json=chat_completion(f"answer to {prompt}"))

    return handle


def payload(*prompts: str, **extra: Any) -> dict[str, Any]:
    body = {"configuration": "test", "model": "gpt-4o-mini", "prompts": list(prompts)}
    body.update(extra)
    return body


def test_every_prompt_is_answered_on_its_own_in_prompt_order(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    wire_server.handler = answer_by_prompt()
    harness = run_job(provider_config)

    record = harness.run(
        "chat_completions_multiple",
        payload("one", "two", "three", "four", "five", system_prompt="Be brief."),
    )

    assert record["status"] == "succeeded"
    assert record["output"]["responses"] == [
        {
            "index": i,
            "success": True,
            "assistant_response_text": f"answer to {prompt}",
            "finish_reason": "stop",
            "error": None,
        }
        for i, prompt in enumerate(["one", "two", "three", "four", "five"])
    ]
    assert len(wire_server.requests) == 5
    for request in wire_server.requests:
        assert request.json["messages"][0] == {"role": "system", "content": "Be brief."}
        assert len(request.json["messages"]) == 2
    assert record["usage"]["total_tokens"] == 5 * 18


def test_a_failing_prompt_is_reported_and_the_others_still_answered(
    run_job: Any, wire_server: Any
) -> None:
    wire_server.handler = answer_by_prompt(
        {"bad": [provider_error(400, "This prompt was refused.", "content_policy_violation")]}
    )
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run("chat_completions_multiple", payload("good", "bad"))

    assert record["success"] is True
    good, bad = record["output"]["responses"]
    assert good["success"] is True
    assert good["assistant_response_text"] == "answer to good"
    assert bad["success"] is False
    assert bad["assistant_response_text"] is None
    assert bad["error"]["type"] == "provider"
    assert bad["error"]["status_code"] == 400
    assert "refused" in bad["error"]["message"]


def test_a_retryable_failure_is_retried_inline_without_sending_the_answered_prompts_again(
    run_job: Any, wire_server: Any
) -> None:
    busy = Reply(429, {"error": {"message": "Rate limit"}}, headers={"retry-after-ms": "0"})
    wire_server.handler = answer_by_prompt({"flaky": [busy]})
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=3)

    record = harness.run("chat_completions_multiple", payload("steady", "flaky"))

    assert [r["success"] for r in record["output"]["responses"]] == [True, True]
    assert Counter(prompt_of(r) for r in wire_server.requests) == {"steady": 1, "flaky": 2}
    assert record["attempts"] == 1


def test_a_prompt_still_failing_after_the_inline_retries_is_reported_failed(
    run_job: Any, wire_server: Any
) -> None:
    down = Reply(503, {"error": {"message": "Overloaded"}}, headers={"retry-after-ms": "0"})
    wire_server.handler = answer_by_prompt({"flaky": [down, down, down, down, down]})
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=5)

    record = harness.run("chat_completions_multiple", payload("steady", "flaky"))

    steady, flaky = record["output"]["responses"]
    assert steady["success"] is True
    assert flaky["success"] is False
    assert flaky["error"]["status_code"] == 503
    # one try and two inline retries, never a whole-job retry that would resend "steady"
    assert Counter(prompt_of(r) for r in wire_server.requests) == {"steady": 1, "flaky": 3}


def test_the_job_fails_when_every_prompt_fails(run_job: Any, wire_server: Any) -> None:
    wire_server.handler = lambda _: provider_error(400, "Bad request.")
    harness = run_job(make_configuration("azure_api_key", wire_server.url))

    record = harness.run("chat_completions_multiple", payload("a", "b"))

    assert record["status"] == "failed"
    assert record["error"]["type"] == "provider"
    assert record["error"]["message"].startswith("all 2 prompts failed")
    assert [r["index"] for r in record["error"]["details"]["responses"]] == [0, 1]


def test_when_every_prompt_failed_retryably_the_whole_job_is_retried(
    run_job: Any, wire_server: Any
) -> None:
    busy = Reply(429, {"error": {"message": "Rate limit"}}, headers={"retry-after": "30"})
    wire_server.script(busy, busy)
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=1)

    record = harness.run("chat_completions_multiple", payload("a", "b"))

    # a 30 s wait is not held inline; the job is retried later and then succeeds
    [delay] = harness.delays  # what the provider asked, plus jitter, never less
    assert 30.0 <= delay <= 33.0
    assert record["status"] == "succeeded"
    assert record["attempts"] == 2


def test_json_mode_needs_json_in_every_prompt_or_the_system_prompt(
    run_job: Any, wire_server: Any
) -> None:
    wire_server.script(*[Reply(json=chat_completion('{"n": 1}'))] * 2)
    harness = run_job(make_configuration("openai", wire_server.url))

    refused = harness.run(
        "chat_completions_multiple", payload("JSON please", "hi", response_format="json_object")
    )
    accepted = harness.run(
        "chat_completions_multiple",
        payload("a", "b", system_prompt="Answer in JSON.", response_format="json_object"),
    )

    assert refused["error"]["type"] == "validation"
    assert accepted["success"] is True
    assert [r["assistant_response_json"] for r in accepted["output"]["responses"]] == [{"n": 1}] * 2
    assert wire_server.last.json["response_format"] == {"type": "json_object"}


def test_an_openai_job_without_a_model_is_refused_before_any_prompt_is_sent(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run("chat_completions_multiple", {"configuration": "test", "prompts": ["a"]})

    assert record["error"]["type"] == "validation"
    assert wire_server.requests == []
