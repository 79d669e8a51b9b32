"""A job redelivered mid tool loop resumes: answered calls are not run again."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from support import (
    CrashingSteps,
    Reply,
    WorkerKilled,
    chat_completion,
    kill_hard,
    make_configuration,
    wait_for,
)


def tool_call(call_id: str, name: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}


PAYLOAD = {
    "configuration": "test",
    "user_prompt": "Do both steps",
    "functions": [{"name": "quick_step"}, {"name": "slow_step"}],
}


def test_a_redelivered_job_runs_only_the_calls_without_a_result(
    run_job: Any, wire_server: Any
) -> None:
    # Given a model that asks for two calls, then answers
    wire_server.script(
        Reply(
            json=chat_completion(
                None,
                finish_reason="tool_calls",
                tool_calls=[tool_call("c1", "quick_step"), tool_call("c2", "slow_step")],
            )
        ),
        Reply(json=chat_completion("both done")),
    )
    harness = run_job(make_configuration("azure_api_key", wire_server.url))
    steps = CrashingSteps()
    steps.register(harness.functions)

    # When the worker dies during the second call
    with pytest.raises(WorkerKilled):
        harness.run("chat_completions_without_history", PAYLOAD, job_id="job-1")
    assert harness.results.get("job-1")["status"] == "running"

    # And the job is delivered again
    steps.armed = False
    record = harness.run("chat_completions_without_history", PAYLOAD, job_id="job-1")

    # Then the answered call was not repeated, the model was not asked again for calls,
    # and the conversation sent on carries both results in call order
    assert record["status"] == "succeeded", record["error"]
    assert record["output"]["assistant_response_text"] == "both done"
    assert steps.calls == ["quick", "slow", "slow"]
    assert len(wire_server.requests) == 2
    tool_messages = [m for m in wire_server.last.json["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["content"]) for m in tool_messages] == [
        ("c1", "quick done"),
        ("c2", "slow done"),
    ]
    assert record["attempts"] == 2
    assert "job-1" not in harness.runner.ledgers.backend.jobs  # dropped once the job ended


def test_the_prompts_of_a_multiple_job_resume_each_from_their_own_calls(
    run_job: Any, wire_server: Any
) -> None:
    # Given two prompts whose models each call one function, then answer
    def model(request: Any) -> Reply:
        messages = request.json["messages"]
        prompt = messages[0]["content"]
        if messages[-1]["role"] == "tool":
            return Reply(json=chat_completion(f"{prompt}: {messages[-1]['content']}"))
        call = tool_call(f"call-{prompt}", "step")
        return Reply(json=chat_completion(None, finish_reason="tool_calls", tool_calls=[call]))

    wire_server.handler = model
    harness = run_job(make_configuration("azure_api_key", wire_server.url))
    ledgers = harness.runner.ledgers.backend.jobs
    runs: list[str] = []
    crash = {"armed": True}

    def step() -> str:
        runs.append("run")
        if crash["armed"] and len(runs) == 2:
            # The worker dies in the second prompt's function, once the first prompt
            # has its final answer.
            wait_for(lambda: any(k.endswith("/round:1") for k in ledgers.get("job-m", {})))
            raise WorkerKilled
        return f"result {len(runs)}"

    harness.functions.register(step, parameters={"type": "object", "properties": {}})
    payload = {"configuration": "test", "prompts": ["one", "two"], "functions": [{"name": "step"}]}

    # When the worker dies while the second function runs
    with pytest.raises(WorkerKilled):
        harness.run("chat_completions_multiple", payload, job_id="job-m")
    assert len(wire_server.requests) == 3  # both first rounds, the first prompt's second

    # And the job is delivered again
    crash["armed"] = False
    record = harness.run("chat_completions_multiple", payload, job_id="job-m")

    # Then each prompt resumed from its own calls: the only new model call is the second
    # prompt's second round, and only the function without a result ran again
    assert record["status"] == "succeeded", record["error"]
    assert len(wire_server.requests) == 4
    assert len(runs) == 3
    texts = [r["assistant_response_text"] for r in record["output"]["responses"]]
    assert [t.split(":")[0] for t in texts] == ["one", "two"]


@pytest.mark.integration
def test_a_worker_killed_mid_function_is_resumed_by_another_without_repeating_calls(
    client: Any, start_worker: Any, wire_server: Any, tmp_path: Path
) -> None:
    # Given a model asking for a quick and a slow function, then answering
    wire_server.script(
        Reply(
            json=chat_completion(
                None,
                finish_reason="tool_calls",
                tool_calls=[tool_call("c1", "quick_step"), tool_call("c2", "slow_step")],
            )
        ),
    )
    wire_server.handler = lambda _: Reply(json=chat_completion("resumed and done"))
    client.configurations().save(make_configuration("openai", wire_server.url))
    log, block = tmp_path / "calls.log", tmp_path / "block"
    block.touch()
    env = {
        "OPENAI_WORKER_FUNCTION_MODULES": "checkpoint_functions",
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
        ),
        "CHECKPOINT_TEST_LOG": str(log),
        "CHECKPOINT_TEST_BLOCK": str(block),
        "OPENAI_WORKER_HEARTBEAT_TIMEOUT_S": "2",
    }
    doomed = start_worker(threads=1, **env)
    job_id = client.submit("chat_completions_without_history", {**PAYLOAD, "model": "m"})

    # When the worker is killed while the slow function runs
    wait_for(lambda: log.exists() and "slow started" in log.read_text())
    kill_hard(doomed)
    block.unlink()
    start_worker(threads=1, **env)

    # Then another worker finishes the job without running the quick function again
    record = client.wait(job_id, 60)
    assert record["status"] == "succeeded"
    assert record["output"]["assistant_response_text"] == "resumed and done"
    lines = log.read_text().splitlines()
    assert lines.count("quick") == 1
    assert lines.count("slow started") == 2
    assert len(wire_server.requests) == 2
    assert json.loads(wire_server.requests[1].body)["messages"][-1]["content"] == "slow done"
