"""The one redactor: whole keys, fragments of them, and their base64 forms."""

from __future__ import annotations

import base64

import pytest

from worker.redaction import (
    FRAGMENT,
    REDACTED,
    redact,
    redact_text,
    register_secret,
)

KEY = "azure-redaction-test-key-0123456789abcdefXYZ"


@pytest.fixture(autouse=True)
def registered() -> None:
    register_secret(KEY)  # registering again is harmless; secrets stay for the process


def test_a_whole_key_is_replaced() -> None:
    assert redact_text(f"key={KEY}; more") == f"key={REDACTED}; more"


@pytest.mark.parametrize("start", [0, 5, 17, len(KEY) - FRAGMENT])
def test_any_run_of_twelve_characters_of_a_key_is_replaced(start: int) -> None:
    fragment = KEY[start : start + FRAGMENT]

    assert fragment not in redact_text(f"<{fragment}>")


def test_shorter_runs_are_left_alone() -> None:
    text = f"the word {KEY[: FRAGMENT - 1]} is common"

    assert redact_text(text) == text


@pytest.mark.parametrize("offset", [0, 1, 2, 3, 4])
def test_a_key_inside_base64_is_found_at_every_alignment(offset: int) -> None:
    encoded = base64.b64encode(b"\x00" * offset + KEY.encode() + b"\xff tail").decode()

    cleaned = redact_text(encoded)

    assert REDACTED in cleaned
    stable = base64.b64encode(KEY.encode()).decode()[4:-4]
    assert not any(stable[i : i + FRAGMENT] in cleaned for i in range(len(stable) - FRAGMENT))


def test_json_values_and_keys_are_all_redacted() -> None:
    value = {"a": [KEY, {"b": KEY[2:20]}], KEY: 1, "n": 5}

    assert redact(value) == {"a": [REDACTED, {"b": REDACTED}], REDACTED: 1, "n": 5}
