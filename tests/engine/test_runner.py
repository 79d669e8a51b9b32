"""The runner: validation, provider errors, retries and their limits, internal errors."""

from __future__ import annotations

from typing import Any

import pytest
from support import SECRET_KEY, Reply, chat_completion, make_configuration, provider_error

from schemas.chat import ConfigurationTestSchema
from worker.catalog import OperationSpec
from worker.configurations import ConfigurationStore, KeyRing, MemoryBackend
from worker.engine.runner import Done, JobRunner, RetryLater
from worker.functions import FunctionRegistry
from worker.operations import Operation, Outcome
from worker.results import MemoryResultStore, new_record
from worker.retries import FinalWriteRetries
from worker.settings import Settings
from worker.transport import HttpClient

PROMPT = {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "hi"}


def test_an_invalid_payload_fails_as_validation_without_any_http_call(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=3)

    record = harness.run("chat_completions_without_history", {**PROMPT, "temperature": 9})

    assert record["status"] == "failed"
    assert record["success"] is False
    assert record["error"]["type"] == "validation"
    assert "temperature" in record["error"]["message"]
    assert record["attempts"] == 1
    assert wire_server.requests == []


def test_openai_without_a_model_is_a_validation_error(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run("configuration_test", {"configuration": "test"})

    assert record["error"]["type"] == "validation"
    assert "model is required" in record["error"]["message"]
    assert wire_server.requests == []


def test_azure_needs_no_model(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("azure_api_key", wire_server.url))

    assert harness.run("configuration_test", {"configuration": "test"})["success"] is True


def test_an_unknown_configuration_is_a_configuration_error(run_job: Any) -> None:
    record = run_job().run("configuration_test", {"configuration": "nope", "model": "m"})

    assert record["error"]["type"] == "configuration"
    assert "nope" in record["error"]["message"]


def test_an_unknown_operation_is_a_validation_error(run_job: Any) -> None:
    record = run_job().run("make_coffee", {"configuration": "x"})

    assert record["error"]["type"] == "validation"
    assert "make_coffee" in record["error"]["message"]


def test_a_payload_that_is_not_an_object_is_refused(run_job: Any) -> None:
    record = run_job().run("configuration_test", ["not", "an", "object"])

    assert record["error"] == {
        "type": "validation",
        "message": "the payload must be a JSON object",
        "status_code": None,
    }


def test_a_provider_error_keeps_its_message_and_status_and_is_not_retried(
    run_job: Any, wire_server: Any
) -> None:
    wire_server.script(provider_error(400, "Invalid value for 'temperature'.", "invalid_value"))
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=3)

    record = harness.run("chat_completions_without_history", PROMPT)

    assert record["error"]["type"] == "provider"
    assert record["error"]["message"] == "Invalid value for 'temperature'."
    assert record["error"]["status_code"] == 400
    assert record["attempts"] == 1
    assert len(wire_server.requests) == 1


def test_a_429_is_retried_after_the_time_the_provider_asks_for(
    run_job: Any, wire_server: Any
) -> None:
    wire_server.script(
        Reply(
            429,
            {"error": {"message": "Rate limit", "code": "rate_limit_exceeded"}},
            headers={"retry-after-ms": "1500"},
        ),
        Reply(json=chat_completion("after the wait")),
    )
    harness = run_job(make_configuration("azure_api_key", wire_server.url), max_retries=3)

    record = harness.run("configuration_test", {"configuration": "test"})

    assert record["success"] is True
    assert record["output"]["assistant_response_text"] == "after the wait"
    assert record["attempts"] == 2
    [delay] = harness.delays  # what the provider asked, plus jitter, never less
    assert 1.5 <= delay <= 2.5


def test_retries_end_in_a_failure_that_keeps_the_last_error(run_job: Any, wire_server: Any) -> None:
    wire_server.handler = lambda _: Reply(503, body=b"<html>Service Unavailable</html>")
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=2)

    record = harness.run("chat_completions_without_history", PROMPT)

    assert record["status"] == "failed"
    assert record["error"]["type"] == "provider"
    assert record["error"]["status_code"] == 503
    assert record["attempts"] == 3
    assert len(wire_server.requests) == 3
    assert len(harness.delays) == 2


def test_a_slow_provider_is_a_transport_error_after_retries(run_job: Any, wire_server: Any) -> None:
    wire_server.handler = lambda _: Reply(json=chat_completion(), delay_s=0.6)
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=1, timeout_s=0.2)

    record = harness.run("chat_completions_without_history", PROMPT)

    assert record["error"]["type"] == "transport"
    assert "within 0.2 s" in record["error"]["message"]
    assert record["attempts"] == 2


def test_a_dropped_connection_is_retried(run_job: Any, wire_server: Any) -> None:
    wire_server.script(Reply(drop=True), Reply(json=chat_completion("second try")))
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=2)

    record = harness.run("chat_completions_without_history", PROMPT)

    assert record["success"] is True
    assert record["output"]["assistant_response_text"] == "second try"


def test_a_success_body_that_is_not_json_is_retried_then_fails_clearly(
    run_job: Any, wire_server: Any
) -> None:
    wire_server.handler = lambda _: Reply(200, body=b"{not json")
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=1)

    record = harness.run("chat_completions_without_history", PROMPT)

    assert record["error"]["type"] == "provider"
    assert "not JSON" in record["error"]["message"]
    assert record["attempts"] == 2


def test_a_bug_in_an_operation_fails_the_job_and_not_the_worker(wire_server: Any) -> None:
    def broken(ctx: Any, payload: dict[str, Any]) -> Outcome:
        raise KeyError("oops")

    results = MemoryResultStore()
    configurations = ConfigurationStore(MemoryBackend(), KeyRing([SECRET_KEY]))
    configurations.save(make_configuration("azure_api_key", wire_server.url, name="x"))
    runner = JobRunner(
        settings=Settings(),
        results=results,
        configurations=configurations,
        http=HttpClient(timeout_s=1, connect_timeout_s=1),
        functions=FunctionRegistry(),
        operations={
            "broken": Operation(OperationSpec("broken", ConfigurationTestSchema, "fails"), broken)
        },
    )

    decision = runner.run("j1", "broken", {"configuration": "x"})

    assert decision == Done("failed")
    record = results.get("j1")
    assert record is not None
    assert record["error"]["type"] == "internal"
    assert "KeyError" in record["error"]["message"]


def test_a_redelivered_job_that_already_finished_is_not_run_again(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("azure_api_key", wire_server.url))
    first = harness.run("configuration_test", {"configuration": "test"}, job_id="same")

    decision = harness.runner.run("same", "configuration_test", {"configuration": "test"})

    assert decision == Done("succeeded")
    assert harness.results.get("same") == first
    assert len(wire_server.requests) == 1


def test_a_retry_decision_records_the_retrying_status(run_job: Any, wire_server: Any) -> None:
    wire_server.script(Reply(500, {"error": {"message": "boom"}}))
    harness = run_job(make_configuration("azure_api_key", wire_server.url), max_retries=1)

    decision = harness.runner.run("j", "configuration_test", {"configuration": "test"})

    assert isinstance(decision, RetryLater)
    record = harness.results.get("j")
    assert record["status"] == "retrying"
    assert record["success"] is None
    assert record["error"]["message"] == "boom"


def test_a_delivery_that_died_with_its_worker_counts_as_an_attempt(
    run_job: Any, wire_server: Any
) -> None:
    # Given a record left "running" by a worker that was killed mid-job
    harness = run_job(make_configuration("azure_api_key", wire_server.url), max_retries=2)
    record = new_record("j", "configuration_test", "test")
    harness.results.put({**record, "status": "running", "attempts": 1})

    # When the message is delivered again
    decision = harness.runner.run("j", "configuration_test", {"configuration": "test"})

    # Then it runs once more and counts the second attempt
    assert decision == Done("succeeded")
    assert harness.results.get("j")["attempts"] == 2


def test_a_job_that_keeps_killing_its_workers_ends_as_failed(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("azure_api_key", wire_server.url), max_retries=2)
    record = new_record("j", "configuration_test", "test")
    harness.results.put({**record, "status": "running", "attempts": 5})

    decision = harness.runner.run("j", "configuration_test", {"configuration": "test"})

    assert decision == Done("failed")
    final = harness.results.get("j")
    assert final["error"]["type"] == "internal"
    assert "interrupted 5 times" in final["error"]["message"]
    assert wire_server.requests == []


def test_the_observer_hears_of_calls_retries_and_the_end(run_job: Any, wire_server: Any) -> None:
    events: list[tuple[str, Any]] = []

    class Recorder:
        def job_started(self, operation: str, configuration: str | None) -> None:
            events.append(("started", operation))

        def job_retrying(self, operation: str, configuration: str | None, kind: str) -> None:
            events.append(("retrying", kind))

        def job_finished(self, record: dict[str, Any], duration_s: float) -> None:
            events.append(("finished", record["status"]))

        def provider_response(self, configuration: str, path: str, status: int, s: float) -> None:
            events.append(("response", (path, status)))

    wire_server.script(Reply(500, {"error": {"message": "boom"}}))
    harness = run_job(make_configuration("azure_api_key", wire_server.url), max_retries=1)
    harness.runner.observer = Recorder()

    harness.run("configuration_test", {"configuration": "test"})

    assert events == [
        ("started", "configuration_test"),
        ("response", ("chat/completions", 500)),
        ("retrying", "provider"),
        ("started", "configuration_test"),
        ("response", ("chat/completions", 200)),
        ("finished", "succeeded"),
    ]


class RefusingFinalWrites(MemoryResultStore):
    """A result store that refuses final records while ``refusing`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.refusing = True

    def put(self, record: dict[str, Any], *, force: bool = False, ack: Any = None) -> bool:
        if self.refusing and record["status"] in ("succeeded", "failed"):
            raise ConnectionError("OOM command not allowed when used memory > 'maxmemory'")
        return super().put(record, force=force, ack=ack)


def test_an_outcome_whose_record_was_refused_is_written_by_the_next_delivery(
    wire_server: Any,
) -> None:
    # Given a runner whose store refuses final records, and gives up at once
    wire_server.handler = lambda _: Reply(json=chat_completion("paid for once"))
    results = RefusingFinalWrites()
    configurations = ConfigurationStore(MemoryBackend(), KeyRing([SECRET_KEY]))
    configurations.save(make_configuration("openai", wire_server.url))
    runner = JobRunner(
        settings=Settings(),
        results=results,
        configurations=configurations,
        http=HttpClient(timeout_s=5, connect_timeout_s=1),
        functions=FunctionRegistry(),
        final_write=FinalWriteRetries(patience_s=0),
    )
    payload = {"configuration": "test", "model": "m", "user_prompt": "hi"}

    # When the first delivery cannot write its final record
    with pytest.raises(ConnectionError):
        runner.run("j-oom", "chat_completions_without_history", payload)
    assert results.get("j-oom")["status"] == "running"

    # And Redis takes writes again for the next delivery
    results.refusing = False
    decision = runner.run("j-oom", "chat_completions_without_history", payload)

    # Then that delivery wrote the kept outcome without calling the provider
    assert decision == Done("succeeded")
    record = results.get("j-oom")
    assert record["output"]["assistant_response_text"] == "paid for once"
    assert record["attempts"] == 1
    assert len(wire_server.requests) == 1
    assert runner.ledgers.backend.jobs == {}  # dropped once the job ended
