"""A provider echoing the key, or someone with Redis access, never gets it out.

Real worker processes, real Redis. Besides what each test asserts, the ``namespace``
and ``start_worker`` fixtures scan every Redis key and every worker log afterwards for
any 12-character fragment of a test key, plain or base64-encoded.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from support import OPENAI_KEY, Reply, WireServer, leaks, make_configuration

from worker.configurations import Configuration
from worker.errors import ConfigurationError
from worker.transport import HttpClient

pytestmark = pytest.mark.integration
WAIT_S = 60


def key_of(request: Any) -> str:
    return str(request.headers["authorization"]).removeprefix("Bearer ")


def echo_in_error(request: Any) -> Reply:
    key = key_of(request)
    error = {
        # The key past the 200th character: a message cut before redaction kept most of it.
        "message": "x" * 180 + f" your key {key} is not allowed",
        "param": key,
        "code": "invalid_api_key",
        "inner_error": {"echo": key[3:40]},
    }
    return Reply(400, {"error": error})


def test_a_key_echoed_in_an_error_reaches_no_record_and_no_log(
    client: Any, start_worker: Any, wire_server: WireServer
) -> None:
    wire_server.handler = echo_in_error
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker()

    payload = {"configuration": "test", "model": "m", "user_prompt": "hi"}
    record = client.wait(client.submit("chat_completions_without_history", payload), WAIT_S)

    assert record["status"] == "failed"
    assert record["error"]["message"].startswith("x" * 180)
    assert "[redacted]" in record["error"]["message"]
    assert record["error"]["details"]["param"] == "[redacted]"
    assert not leaks(json.dumps(record).encode())


@pytest.mark.parametrize("response_type", ["json", "text", "binary"])
def test_a_key_echoed_in_a_raw_answer_is_redacted_in_every_form(
    client: Any, start_worker: Any, wire_server: WireServer, response_type: str
) -> None:
    # Given a provider echoing the key in the body and a header, as JSON or raw bytes
    def echo(request: Any) -> Reply:
        key = key_of(request)
        if response_type == "json":
            body = json.dumps({"echo": key, "nested": [{"part": key[2:30]}]}).encode()
        else:
            body = b"\x00\x01binary prefix " + key.encode() + b" suffix\xff"
        return Reply(body=body, headers={"X-Echo": key[:20]})

    wire_server.handler = echo
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker()

    payload = {"configuration": "test", "path": "echo", "response_type": response_type}
    record = client.wait(client.submit("raw_request", payload), WAIT_S)

    # Then the output holds none of it, however it was encoded
    assert record["status"] == "succeeded", record["error"]
    output = record["output"]
    assert not leaks(json.dumps(record).encode())
    if response_type == "binary":
        assert not leaks(base64.b64decode(output["body"].replace("[redacted]", "")))
    assert "[redacted]" in json.dumps(output)


def test_a_tampered_endpoint_never_receives_a_request(
    client: Any, start_worker: Any, wire_server: WireServer
) -> None:
    # Given a configuration whose plaintext endpoint someone with Redis access redirected
    attacker = WireServer()
    try:
        client.configurations().save(make_configuration("openai", wire_server.url))
        stored = client.keys.configurations
        record = json.loads(client.redis.hget(stored, "test"))
        record["endpoint"] = attacker.url
        client.redis.hset(stored, "test", json.dumps(record))
        start_worker()

        # When a job uses it
        payload = {"configuration": "test", "model": "m", "user_prompt": "hi"}
        result = client.wait(client.submit("chat_completions_without_history", payload), WAIT_S)
    finally:
        attacker.close()

    # Then it fails as a configuration error, and neither endpoint saw a request
    assert result["status"] == "failed"
    assert result["error"]["type"] == "configuration"
    assert "changed outside openai-worker (endpoint" in result["error"]["message"]
    assert attacker.requests == []
    assert wire_server.requests == []


@pytest.mark.parametrize(
    "key", [" sk-leading-space-0123456789", "sk-trailing 0123456789", "sk-€uro"]
)
def test_a_key_http_cannot_carry_is_refused_when_configured(key: str) -> None:
    with pytest.raises(ConfigurationError, match="visible ASCII") as refused:
        Configuration(
            name="x", api_type="openai", endpoint="https://api.openai.com/v1", api_key=key
        )
    assert key.strip() not in str(refused.value)


def test_a_header_http_cannot_carry_fails_without_quoting_it(wire_server: WireServer) -> None:
    http = HttpClient(timeout_s=5, connect_timeout_s=2)

    with pytest.raises(ConfigurationError) as refused:
        http.request("GET", wire_server.url, headers={"Authorization": f" Bearer {OPENAI_KEY}"})

    assert OPENAI_KEY[:12] not in str(refused.value)
    assert not refused.value.retryable
    assert wire_server.requests == []
