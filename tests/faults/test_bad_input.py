"""Thousands of random and malformed payloads: each ends as a clear failure, none crashes."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from fuzzing import any_text, deeply_nested, json_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.operations import OPERATIONS


@st.composite
def payloads(draw: st.DrawFn, operation: str) -> Any:
    """Mostly payloads built from the operation's own field names with random values."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(json_values)  # not even an object, usually
    if kind == 1:
        return draw(st.dictionaries(any_text, json_values, max_size=6))
    names = list(OPERATIONS[operation].schema().fields)
    chosen = draw(st.lists(st.sampled_from(names), max_size=len(names), unique=True))
    payload = {name: draw(json_values) for name in chosen}
    if draw(st.booleans()):
        payload["configuration"] = "test"
    if kind == 2:
        payload[draw(st.sampled_from(names))] = deeply_nested(draw(st.integers(30, 400)))
    return payload


def _check(record: dict[str, Any]) -> None:
    assert record["status"] == "failed"
    # Nothing is configured, so the best a payload can reach is a configuration error.
    assert record["error"]["type"] in {"validation", "configuration"}, record["error"]
    json.dumps(record)  # the record is always storable


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_random_payloads_end_as_clear_failures_and_never_crash_the_runner(
    operation: str, run_job: Any
) -> None:
    harness = run_job()

    @settings(
        max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(payloads(operation))
    def check(payload: Any) -> None:
        _check(harness.run(operation, payload))

    check()


def test_nan_and_infinity_never_reach_the_provider(run_job: Any) -> None:
    for value in (math.nan, math.inf):
        record = run_job().run(
            "chat_completions_without_history",
            {"configuration": "test", "model": "m", "user_prompt": "hi", "temperature": value},
        )
        assert record["error"]["type"] == "validation"


def test_malformed_payloads_through_a_real_worker_never_kill_it(
    client: Any, start_worker: Any
) -> None:
    worker = start_worker(threads=4)
    bad: list[Any] = [
        {"configuration": "x", "user_prompt": "\ud800 lone surrogate", "model": "m"},
        {"configuration": "x", "user_prompt": "hi", "temperature": float("nan"), "model": "m"},
        {"configuration": "x", "user_prompt": deeply_nested(200)},
        {"configuration": 5},
        {"configuration": "x", "user_prompt": "x" * 2_000_000},
        {},
    ] * 20
    job_ids = [client.submit("chat_completions_without_history", p, validate=False) for p in bad]
    for job_id in job_ids:
        _check(client.wait(job_id, 60))
    assert worker.process.poll() is None


def test_oversized_payloads_are_refused_at_submission(client: Any) -> None:
    from worker.errors import ValidationError

    with pytest.raises(ValidationError, match="over the limit"):
        client.submit(
            "chat_completions_without_history",
            {"configuration": "x", "user_prompt": "x" * (client.settings.max_payload_bytes + 1)},
        )
