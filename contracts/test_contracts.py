"""Every cassette replayed offline through the real providers, transport and operations.

Both directions are checked: the request the worker sends must be the recorded one
(vcrpy matches method, host, path, query and body, and nothing is let through to the
network), with the right auth header for its wire variant; and the job's result must
be what the recorded answer says. A download from a URL an answer gave (a generated
image) is replayed from the same cassette, and must go out with no auth header.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cases import CASES, Answer, ContractCase, summed
from harness import (
    API_VERSION,
    AUTH_MARKER,
    DEPLOYMENT,
    DOWNLOAD_HOSTS,
    REPLAY,
    SECRET_HEADERS,
    CapturingHttpClient,
    Delivery,
    cassette_vcr,
    deliver,
)

from worker.engine.runner import RetryLater

AUTH_HEADERS = {
    "openai": {"authorization", "openai-organization"},
    "azure_api_key": {"api-key"},
    "azure_bearer": {"authorization"},
    "azure_v1": {"api-key"},
    "azure_v1_bearer": {"authorization"},
}
#: Where each provider's paths start, and the query every request carries.
BASES = {
    "openai": ("/v1/", {}),
    "azure": (f"/openai/deployments/{DEPLOYMENT}/", {"api-version": API_VERSION}),
    "azure_v1": ("/openai/v1/", {}),
}


def replay(case: ContractCase) -> tuple[Delivery, Any]:
    assert case.cassette.exists(), f"no cassette for {case.id}: run make record-cassettes"
    with cassette_vcr("none").use_cassette(str(case.cassette)) as cassette:
        delivery = deliver(case, REPLAY.configuration(case.variant), CapturingHttpClient())
    return delivery, cassette


def answers(cassette: Any) -> list[Answer]:
    def one(response: dict[str, Any]) -> Answer:
        headers = {
            name: ", ".join(values) if isinstance(values, list) else str(values)
            for name, values in response["headers"].items()
        }
        content = response["body"]["string"]
        content = content.encode() if isinstance(content, str) else bytes(content)
        return Answer(int(response["status"]["code"]), headers, content)

    return [one(response) for response in cassette.responses]


def is_download(request: Any) -> bool:
    return bool(request.host in DOWNLOAD_HOSTS)


def canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True)


def subset_of(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    for key, value in expected.items():
        if isinstance(value, dict):
            if not isinstance(actual.get(key), dict) or not subset_of(value, actual[key]):
                return False
        elif actual.get(key) != value:
            return False
    return True


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_worker_sends_exactly_the_recorded_requests(case: ContractCase) -> None:
    delivery, cassette = replay(case)

    assert cassette.all_played
    provider_calls = [r for r in cassette.requests if not is_download(r)]
    assert len(delivery.sent) == len(provider_calls)
    base, query = BASES[case.provider]
    # Operations may send in parallel (chat_completions_multiple): pair by body.
    sent_in_order = sorted(delivery.sent, key=lambda sent: canonical(sent.json_body))
    recorded_in_order = sorted(provider_calls, key=lambda r: canonical(body_of(r)))
    for sent, recorded in zip(sent_in_order, recorded_in_order, strict=True):
        assert sent.method == recorded.method == case.request.method
        assert sent.path == recorded.path
        assert sent.params == dict(recorded.query)
        assert sent.params == query
        assert sent.json_body == body_of(recorded)
        auth = {name.lower() for name in sent.headers if name.lower() in SECRET_HEADERS}
        assert auth == AUTH_HEADERS[case.variant]
        assert set(recorded.headers[AUTH_MARKER].split(", ")) == auth
    first = delivery.sent[0]
    assert first.path == base + case.request.path
    assert subset_of(case.request.body, first.json_body or {})
    assert not set(case.request.absent) & set(first.json_body or {})
    for recorded in (r for r in cassette.requests if is_download(r)):
        [download] = [w for w in delivery.wire if w.url == recorded.uri]
        assert download.method == "GET"
        assert not {name.lower() for name in download.headers} & set(SECRET_HEADERS)


def body_of(recorded: Any) -> Any:
    return json.loads(recorded.body) if recorded.body else None


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_job_result_is_what_the_recorded_answer_says(case: ContractCase) -> None:
    delivery, cassette = replay(case)
    record, expected = delivery.record, case.expected

    assert record["status"] == expected.status
    if expected.output is not None:
        assert record["success"] is True
        assert dict(record["output"]) == expected.output(answers(cassette))
        usages = [a.json["usage"] for a in answers(cassette) if a.is_json and "usage" in a.json]
        if expected.usage:
            assert record["usage"] == summed(usages)
        else:
            assert record["usage"] is None
    if expected.error is not None:
        assert subset_of(expected.error, record["error"])
        assert record["error"]["message"] == answers(cassette)[-1].json["error"]["message"]
    if expected.retry_after_s is not None:
        assert isinstance(delivery.decision, RetryLater)
        # What the provider asked, plus jitter (never less).
        asked = expected.retry_after_s
        assert asked <= delivery.decision.delay_s <= asked + max(1.0, asked / 10)
