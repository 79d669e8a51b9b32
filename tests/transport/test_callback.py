"""Posting webhooks, against real local servers: where a callback_url may lead, what is sent,
when an attempt stops."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from support import Reply, WireServer

from worker.errors import TransportError
from worker.transport.callback import CallbackRefused, allowed, post

BODY = b'{"type":"job.succeeded"}'
HEADERS = {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"}


@pytest.fixture
def receivers() -> Iterator[Any]:
    started: list[WireServer] = []

    def start(host: str = "127.0.0.1") -> WireServer:
        server = WireServer(host=host)
        server.handler = lambda _: Reply(204, body=b"")
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def send(url: str, *, allow: tuple[str, ...] = (), deadline_s: float = 5) -> Any:
    return post(url, BODY, HEADERS, allow_hosts=allow, connect_timeout_s=2, deadline_s=deadline_s)


def test_a_loopback_receiver_is_refused_unless_its_host_is_allowed(receivers: Any) -> None:
    receiver = receivers()
    url = f"http://127.0.0.1:{receiver.port}/hook"

    with pytest.raises(CallbackRefused, match="plain http"):
        send(url)
    with pytest.raises(CallbackRefused, match="loopback, private or reserved"):
        send(f"https://127.0.0.1:{receiver.port}/hook")
    time.sleep(0.2)
    assert receiver.requests == []

    assert send(url, allow=("127.0.0.1",)).status == 204
    assert send(url, allow=(f"127.0.0.1:{receiver.port}",)).status == 204
    assert len(receiver.requests) == 2


def test_an_allowed_host_and_port_does_not_open_the_hosts_other_ports(receivers: Any) -> None:
    receiver = receivers()

    with pytest.raises(CallbackRefused):
        send(f"http://127.0.0.1:{receiver.port}/hook", allow=("127.0.0.1:1",))
    # Another loopback address is another host: allowing 127.0.0.1 does not allow it.
    other = receivers("127.0.0.2")
    with pytest.raises(CallbackRefused, match="127.0.0.2"):
        send(f"http://127.0.0.2:{other.port}/hook", allow=("127.0.0.1",))
    time.sleep(0.2)
    assert receiver.requests == other.requests == []


def test_the_body_and_headers_arrive_as_signed_without_credentials(receivers: Any) -> None:
    receiver = receivers()

    send(f"http://127.0.0.1:{receiver.port}/hooks/jobs?team=7", allow=("127.0.0.1",))

    got = receiver.last
    assert (got.method, got.path, got.query) == ("POST", "/hooks/jobs", {"team": "7"})
    assert got.body == BODY
    assert got.headers["content-type"] == "application/json"
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert {name: got.headers[name] for name in HEADERS} == HEADERS
    assert not {"authorization", "cookie", "api-key"} & set(got.headers)


def test_a_redirect_is_an_answer_not_followed(receivers: Any) -> None:
    receiver = receivers()
    elsewhere = receivers()
    receiver.handler = lambda _: Reply(307, body=b"", headers={"Location": elsewhere.url})

    answer = send(f"{receiver.url}/hook", allow=("127.0.0.1",))

    assert answer.status == 307
    time.sleep(0.2)
    assert elsewhere.requests == []


def test_retry_after_is_read_from_the_answer(receivers: Any) -> None:
    receiver = receivers()
    receiver.handler = lambda _: Reply(503, body=b"busy", headers={"Retry-After": "7"})

    answer = send(f"{receiver.url}/hook", allow=("127.0.0.1",))

    assert (answer.status, answer.retry_after_s) == (503, 7.0)


def test_a_receiver_that_never_answers_is_given_up_at_the_deadline(receivers: Any) -> None:
    receiver = receivers()
    receiver.handler = lambda _: Reply(200, body=b"", delay_s=5)
    started = time.monotonic()

    with pytest.raises(TransportError, match="no answer from 127.0.0.1 within 1 s"):
        send(f"{receiver.url}/hook", allow=("127.0.0.1",), deadline_s=1)

    assert time.monotonic() - started < 3


def test_a_receiver_that_is_down_is_a_transport_error_to_retry(receivers: Any) -> None:
    receiver = receivers()
    url = f"{receiver.url}/hook"
    receiver.close()

    with pytest.raises(TransportError, match="refused") as failed:
        send(url, allow=("127.0.0.1",))

    assert failed.value.retryable


def test_the_allow_list_matches_names_and_ports_as_settings_spell_them() -> None:
    hosts = ("receiver.internal", "127.0.0.1:8080", "[::1]")

    assert allowed("Receiver.Internal", 443, hosts)
    assert allowed("127.0.0.1", 8080, hosts)
    assert not allowed("127.0.0.1", 8081, hosts)
    assert allowed("::1", 9000, hosts)
    assert not allowed("receiver.internal.evil.example", 443, hosts)
