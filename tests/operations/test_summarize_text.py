"""summarize_text: a system instruction to summarize, the text, the summary out."""

from __future__ import annotations

from typing import Any

from support import Reply, chat_completion, make_configuration

from worker.operations.chat import SUMMARY_INSTRUCTIONS


def test_a_text_is_summarized_by_the_default_instruction(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    wire_server.script(Reply(json=chat_completion("A short summary.")))
    harness = run_job(provider_config)

    record = harness.run(
        "summarize_text",
        {"configuration": "test", "model": "gpt-4o-mini", "text": "A long text.", "max_tokens": 80},
    )

    assert record["output"] == {"summary": "A short summary.", "finish_reason": "stop"}
    body = wire_server.last.json
    assert body["messages"] == [
        {"role": "system", "content": SUMMARY_INSTRUCTIONS},
        {"role": "user", "content": "A long text."},
    ]
    assert body["max_completion_tokens"] == 80


def test_instructions_replace_the_default_and_a_cut_off_summary_says_so(
    run_job: Any, wire_server: Any
) -> None:
    wire_server.script(Reply(json=chat_completion("- point one", finish_reason="length")))
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "summarize_text",
        {
            "configuration": "test",
            "model": "m",
            "text": "A long text.",
            "instructions": "Summarize as three bullet points.",
        },
    )

    assert record["output"] == {"summary": "- point one", "finish_reason": "length"}
    assert wire_server.last.json["messages"][0]["content"] == "Summarize as three bullet points."


def test_an_empty_text_is_refused(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run("summarize_text", {"configuration": "test", "model": "m", "text": ""})

    assert record["error"]["type"] == "validation"
    assert wire_server.requests == []
