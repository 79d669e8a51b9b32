"""Logs are structured events, and secrets are removed by a processor."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from worker.logs import configure_logging, redact_processor
from worker.redaction import REDACTED, register_secret


def test_fields_named_like_secrets_are_blanked() -> None:
    event = redact_processor(None, "info", {"event": "x", "api_key": "abc", "Authorization": "y"})

    assert event["api_key"] == REDACTED
    assert event["Authorization"] == REDACTED


def test_a_registered_secret_is_removed_from_any_text_even_nested() -> None:
    register_secret("registered-secret-value-42")

    event = redact_processor(
        None,
        "error",
        {
            "event": "failed with registered-secret-value-42",
            "context": {"detail": ["x registered-secret-value-42 y"]},
        },
    )

    assert "registered-secret-value-42" not in json.dumps(event)


def test_key_shaped_strings_are_removed_even_when_never_registered() -> None:
    event = redact_processor(
        None,
        "info",
        {
            "event": "sent",
            "headers": "Authorization: Bearer abcdefghijklmnop",
            "note": "sk-abcdefghijkl",
        },
    )

    assert "abcdefghijklmnop" not in event["headers"]
    assert "sk-abcdefghijkl" not in event["note"]


def test_stdlib_and_structlog_output_is_json_and_redacted(
    capfd: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", "INFO")
    register_secret("another-secret-999999")

    structlog.get_logger("t").info("job.failed", job_id="j1", error="key another-secret-999999")
    logging.getLogger("dramatiq.x").warning("message with another-secret-999999")

    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    assert [line["event"] for line in lines] == ["job.failed", "message with [redacted]"]
    assert lines[0]["job_id"] == "j1"
    assert "another-secret-999999" not in json.dumps(lines)


def test_events_carry_bound_job_context(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO")
    structlog.contextvars.bind_contextvars(job_id="j9", operation="configuration_test")

    structlog.get_logger("t").info("job.started")

    line = json.loads(capfd.readouterr().err.strip())
    assert line["job_id"] == "j9"
    assert line["operation"] == "configuration_test"
