"""Random raw requests and random image answers against a configured provider.

Each job ends as a clear failure or a success; none ends as an internal error, none is
retried for something retrying cannot fix, and nothing unsafe is sent.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fuzzing import any_text, deeply_nested, json_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import Reply, make_configuration

from worker.errors import ValidationError

FUZZ = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
header_names = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
header_values = st.text(st.characters(exclude_categories=()), max_size=20)


@st.composite
def raw_payloads(draw: st.DrawFn) -> dict[str, Any]:
    payload: dict[str, Any] = {"configuration": "test", "path": "things"}
    if draw(st.booleans()):
        payload["json"] = draw(json_values | st.builds(deeply_nested, st.integers(20, 60)))
    if draw(st.booleans()):
        payload["headers"] = draw(st.dictionaries(header_names, header_values, max_size=3))
    payload["response_type"] = draw(st.sampled_from(["json", "text", "binary"]))
    return payload


def test_random_raw_requests_fail_clearly_or_are_sent_whole(run_job: Any, wire_server: Any) -> None:
    wire_server.handler = lambda _: Reply(json={"ok": True})
    harness = run_job(make_configuration("openai", wire_server.url))

    @FUZZ
    @given(raw_payloads())
    def check(payload: dict[str, Any]) -> None:
        sent_before = len(wire_server.requests)
        record = harness.run("raw_request", payload)
        if record["status"] == "failed":
            assert record["error"]["type"] == "validation", record["error"]
            assert len(wire_server.requests) == sent_before  # refused before sending
            return
        assert record["status"] == "succeeded"
        sent = wire_server.requests[-1]
        if "json" in payload and payload["json"] is not None:
            assert json.loads(sent.body) == payload["json"]
        for name, value in (payload.get("headers") or {}).items():
            assert sent.headers[name.lower()] == value

    check()


image_answers = st.one_of(
    json_values,
    st.fixed_dictionaries({"data": st.lists(json_values, max_size=2)}),
    st.fixed_dictionaries(
        {
            "data": st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "b64_json": any_text
                        | st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
                        "url": any_text
                        | st.sampled_from(
                            [
                                "https://127.0.0.1/a.png",
                                "https://169.254.169.254/latest/meta-data",
                                "https://[::1]/x.png",
                                "https://10.0.0.1/x.png",
                                "http://example.com/x.png",
                                "file:///etc/passwd",
                            ]
                        ),
                        "revised_prompt": json_values,
                    },
                ),
                min_size=1,
                max_size=2,
            )
        }
    ),
)


def test_random_image_answers_end_clearly_and_fetch_nothing_internal(
    run_job: Any, wire_server: Any
) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))
    payload = {"configuration": "test", "prompt": "a cat", "model": "dall-e-3"}

    @FUZZ
    @given(image_answers)
    def check(answer: Any) -> None:
        wire_server.script(Reply(json=answer))
        requests_before = len(wire_server.requests)
        record = harness.run("image_generations_single", payload)
        assert record["status"] in {"succeeded", "failed"}
        if record["status"] == "failed":
            assert record["error"]["type"] in {"provider", "transport"}, record["error"]
        # The provider was asked once; no download went anywhere (nothing is reachable
        # but the provider itself, and it only answers POSTs here).
        assert len(wire_server.requests) == requests_before + 1

    check()


def test_a_payload_nested_beyond_json_is_refused_at_submission(client: Any) -> None:
    payload = {"configuration": "test", "path": "p", "json": deeply_nested(5000)}

    with pytest.raises(ValidationError, match="nested too deeply"):
        client.submit("raw_request", payload)
