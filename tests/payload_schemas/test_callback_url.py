"""``callback_url``: every operation's payload takes one, and only an absolute http(s) URL."""

from __future__ import annotations

from typing import Any

import pytest

from schemas import to_json_schema
from schemas.common import MAX_URL_CHARS
from worker.catalog import CATALOG
from worker.configurations import Configuration
from worker.errors import ConfigurationError, ValidationError
from worker.validation import validate_payload

GOOD = "https://hooks.example.com/openai-jobs?team=7"
BAD = [
    ("/hooks/relative", "absolute http:// or https://"),
    ("ftp://hooks.example.com/x", "absolute http:// or https://"),
    ("https:///no-host", "naming a host"),
    ("https://user:secret@hooks.example.com/x", "credentials"),
    ("https://hooks.example.com:99999/x", "not a well-formed URL"),
    ("https://hooks.example.com/a b", "without spaces"),
    ("https://höoks.example.com/x", "ASCII"),
    ("https://hooks.example.com/" + "x" * MAX_URL_CHARS, "Length must be between"),
    (42, "Not a valid string"),
]


def callback_errors(operation: str, url: Any) -> list[str]:
    """What the operation's schema says about ``callback_url`` (other fields aside)."""
    try:
        validate_payload(CATALOG[operation].schema, {"configuration": "c", "callback_url": url})
    except ValidationError as refused:
        fields = (refused.details or {}).get("fields", {})
        return list(fields.get("callback_url", []))
    return []


@pytest.mark.parametrize("operation", sorted(CATALOG))
def test_every_operation_takes_a_callback_url(operation: str) -> None:
    assert callback_errors(operation, GOOD) == []
    exported = to_json_schema(CATALOG[operation].schema)["properties"]["callback_url"]
    assert exported == {"type": "string", "minLength": 1, "maxLength": MAX_URL_CHARS}


@pytest.mark.parametrize(("url", "says"), BAD)
def test_a_callback_url_that_is_not_an_absolute_http_url_is_refused(url: Any, says: str) -> None:
    errors = callback_errors("chat_completions_without_history", url)

    assert len(errors) == 1
    assert says in errors[0]


def test_a_configurations_default_callback_url_is_checked_the_same_way() -> None:
    base = {"name": "c", "api_type": "openai", "endpoint": "https://api.openai.com/v1"}

    assert Configuration(**base, api_key="k" * 20, callback_url=GOOD).callback_url == GOOD
    with pytest.raises(ConfigurationError, match="callback_url must not carry credentials"):
        Configuration(**base, api_key="k" * 20, callback_url=BAD[3][0])
