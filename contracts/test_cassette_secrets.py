"""No cassette may carry key material, and every cassette belongs to a contract case.

A re-recording against the real services must never leak a key: the recorder drops
secret headers, and this scan fails the suite if anything slipped through.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import support
from batch_cases import BATCH_CASES
from cases import CASES, CASSETTES
from harness import AUTH_MARKER, TEST_KEYS, normalise_uri, scrub_request, scrub_response
from vcr.request import Request

FILES = sorted(path for path in CASSETTES.rglob("*") if path.is_file())
FORBIDDEN = {
    "an OpenAI key": re.compile(r"sk-[A-Za-z0-9_-]{6,}"),
    "a bearer token": re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE),
    "a JWT (Entra token)": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
    "a secret header": re.compile(
        r"^\s*['\"]?(authorization|api-key|openai-organization|openai-project|cookie|set-cookie)"
        r"['\"]?\s*:",
        re.IGNORECASE | re.MULTILINE,
    ),
}
KNOWN_KEYS = (*TEST_KEYS, support.OPENAI_KEY, support.AZURE_KEY, support.ENTRA_TOKEN)


def test_there_are_cassettes_to_scan() -> None:
    assert any(path.suffix == ".yaml" for path in FILES)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CASSETTES)) for p in FILES])
def test_a_cassette_holds_no_key_material(path: Path) -> None:
    text = path.read_text(errors="replace")

    for what, pattern in FORBIDDEN.items():
        match = pattern.search(text)
        assert match is None, f"{path} contains {what}: {match.group(0)[:12]}…"
    for key in KNOWN_KEYS:
        assert key not in text, f"{path} contains a test key"


def test_every_cassette_belongs_to_a_contract_case() -> None:
    expected = {case.cassette for case in [*CASES, *BATCH_CASES]}
    recorded = {path for path in FILES if path.suffix == ".yaml"}

    assert recorded - expected == set(), "cassettes with no case in contracts/cases.py"
    assert expected - recorded == set(), "cases with no cassette: run make record-cassettes"


def test_recording_drops_secret_headers_and_keeps_only_their_names() -> None:
    request = Request(
        "POST",
        "https://my-resource.openai.azure.com/openai/deployments/prod-gpt4o/chat/completions"
        "?api-version=2024-10-21",
        b"{}",
        {
            "api-key": "real-key-123",
            "Authorization": "Bearer real-token",
            "Cookie": "session=1",
            "Prefer": "code=429",
            "Content-Type": "application/json",
        },
    )

    scrubbed = scrub_request(request)

    assert set(scrubbed.headers) == {"Content-Type", AUTH_MARKER}
    assert scrubbed.headers[AUTH_MARKER] == "api-key, authorization, cookie"
    assert scrubbed.uri == (
        "https://contract-resource.openai.azure.com/openai/deployments/contract-deployment/"
        "chat/completions?api-version=2024-10-21"
    )


def test_recording_normalises_any_openai_host_to_the_placeholder() -> None:
    assert normalise_uri("http://127.0.0.1:4010/v1/embeddings") == (
        "https://api.openai.com/v1/embeddings"
    )


def test_recording_drops_cookies_and_account_headers_from_answers() -> None:
    response = {
        "headers": {"Set-Cookie": ["a=b"], "openai-organization": ["acme"], "x-request-id": ["1"]}
    }

    assert scrub_response(response)["headers"] == {"x-request-id": ["1"]}


def test_recording_names_the_placeholder_host_in_an_uploads_location() -> None:
    # Azure's dated API answers an upload with 201 and the file's URL on the local server
    response = {"headers": {"Location": ["http://127.0.0.1:40111/openai/files/file-1"]}}

    assert scrub_response(response)["headers"]["Location"] == [
        "https://contract-resource.openai.azure.com/openai/files/file-1"
    ]
