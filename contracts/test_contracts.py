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
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml
from batch_cases import BATCH_CASES, BatchCase
from batch_harness import JOB_ID, BatchRun, run_batch_case
from cases import CASES, Answer, ContractCase, summed
from handmade_batch import FILENAME, GROUP
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
    form_parts,
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


# --- the batch tier: Files and Batches ---------------------------------------------------

#: Where each provider's Files and Batches live, and the query every call carries.
BATCH_ROOTS = {
    "openai": ("/v1/", {}),
    "azure": ("/openai/", {"api-version": API_VERSION}),
    "azure_v1": ("/openai/v1/", {}),
}
JOB_CASES = [case for case in BATCH_CASES if case.story == "job"]
CALLS_CASES = [case for case in BATCH_CASES if case.story == "calls"]
OPENAI_BATCH_CASES = [case for case in BATCH_CASES if case.provider == "openai"]


def replay_batch(case: BatchCase) -> tuple[BatchRun, Any]:
    assert case.cassette.exists(), f"no cassette for {case.id}: run make record-cassettes"
    with cassette_vcr("none").use_cassette(str(case.cassette)) as cassette:
        run = run_batch_case(case, REPLAY.configuration(case.variant), CapturingHttpClient())
    return run, cassette


def recorded_pairs(case: BatchCase) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The cassette's interactions as written: request and response dicts."""
    document = yaml.safe_load(case.cassette.read_text(encoding="utf-8"))
    return [(i["request"], i["response"]) for i in document["interactions"]]


def answer_line(cassette: Any) -> dict[str, Any]:
    """The one answer line of the batch's output file, as recorded."""
    lines = [
        json.loads(line)
        for request, answer in zip(cassette.requests, answers(cassette), strict=True)
        if request.path.endswith("/content")
        for line in answer.content.splitlines()
        if line.strip()
    ]
    [line] = lines
    return dict(line)


@pytest.mark.parametrize("case", BATCH_CASES, ids=[case.id for case in BATCH_CASES])
def test_the_batch_tier_sends_exactly_the_recorded_files_and_batches_calls(
    case: BatchCase,
) -> None:
    run, cassette = replay_batch(case)

    assert cassette.all_played
    root, query = BATCH_ROOTS[case.provider]
    # One call at a time, in order: upload, create, polls, reads, deletes.
    assert len(run.sent) == len(cassette.requests)
    for sent, recorded in zip(run.sent, cassette.requests, strict=True):
        assert sent.method == recorded.method
        assert sent.path == recorded.path
        assert sent.path.startswith((root + "files", root + "batches"))
        assert {name: str(value) for name, value in sent.params.items()} == dict(recorded.query)
        assert query.items() <= sent.params.items()
        if sent.json_body is not None:
            assert sent.json_body == body_of(recorded)
        auth = {name.lower() for name in sent.headers if name.lower() in SECRET_HEADERS}
        assert auth == AUTH_HEADERS[case.variant]
        assert set(recorded.headers[AUTH_MARKER].split(", ")) == auth
    # The upload is a form: purpose batch, and the job's line as a JSON Lines file.
    [upload] = [r for r in cassette.requests if r.method == "POST" and r.path.endswith("/files")]
    parts = form_parts(upload)
    assert parts is not None
    assert parts[0] == ('form-data; name="purpose"', "", b"batch")
    disposition, content_type, content = parts[1]
    assert disposition == f'form-data; name="file"; filename="{FILENAME}"'
    assert content_type == "application/jsonl"
    [line] = [json.loads(text) for text in content.splitlines()]
    assert line["custom_id"].startswith(f"{JOB_ID}/")
    assert line["method"] == "POST"
    assert line["url"] == run.group["endpoint"]


def test_every_files_and_batches_request_passed_the_mock_of_openais_official_spec() -> None:
    # Given every request the OpenAI batch cassettes hold (which the test above proves
    # are exactly what the worker sends), recorded against Prism's mock of
    # openai-openapi.yaml, which answers a request breaking the spec with a 4xx
    seen: set[str] = set()
    for case in OPENAI_BATCH_CASES:
        for request, response in recorded_pairs(case):
            # Then the mock accepted each one
            [against] = response["headers"]["x-contract-recorded-against"]
            assert against == "prism openai-openapi.yaml: HTTP 200", (case.id, request["uri"])
            seen.add(_what(request))
    # And together they are every kind of call BatchApi makes, with every parameter
    assert seen == {
        "upload a batch file",
        "list batch files, newest first",
        "list batch files after one",
        "create a batch",
        "list batches",
        "list batches after one",
        "retrieve a batch",
        "cancel a batch",
        "delete a file",
        "read a file's content",
    }


def _what(request: dict[str, Any]) -> str:
    """Which call of ``BatchApi`` a recorded request is, checking what it carries."""
    method, parts = request["method"], urlsplit(request["uri"])
    path, query = parts.path, dict(parse_qsl(parts.query))
    body = json.loads(request["body"]) if method == "POST" and path == "/v1/batches" else None
    if (method, path) == ("POST", "/v1/files"):
        assert request["headers"]["Content-Type"][0].startswith("multipart/form-data")
        return "upload a batch file"
    if (method, path) == ("GET", "/v1/files"):
        assert {"purpose": "batch", "limit": "10000", "order": "desc"}.items() <= query.items()
        return (
            "list batch files after one" if "after" in query else "list batch files, newest first"
        )
    if (method, path) == ("POST", "/v1/batches"):
        assert body is not None
        assert set(body) == {"input_file_id", "endpoint", "completion_window", "metadata"}
        assert body["completion_window"] == "24h"
        assert body["metadata"]["openai_worker_group"] == GROUP
        return "create a batch"
    if (method, path) == ("GET", "/v1/batches"):
        assert query["limit"] == "100"
        return "list batches after one" if "after" in query else "list batches"
    if method == "GET" and path.startswith("/v1/batches/"):
        return "retrieve a batch"
    if method == "POST" and path.endswith("/cancel"):
        return "cancel a batch"
    if method == "DELETE" and path.startswith("/v1/files/"):
        return "delete a file"
    if method == "GET" and path.endswith("/content"):
        return "read a file's content"
    raise AssertionError(f"a request no BatchApi call makes: {method} {path}")


@pytest.mark.parametrize("case", JOB_CASES, ids=[case.id for case in JOB_CASES])
def test_a_batch_tier_job_ends_with_what_its_answer_line_says(case: BatchCase) -> None:
    run, cassette = replay_batch(case)
    line = answer_line(cassette)
    body = line["response"]["body"]
    answer = Answer(200, {"Content-Type": "application/json"}, json.dumps(body).encode())
    [created] = [
        a.json
        for r, a in zip(cassette.requests, answers(cassette), strict=True)
        if r.method == "POST" and r.path.endswith("/batches")
    ]

    record = run.record
    assert record["status"] == "succeeded", record["error"]
    assert record["tier"] == "batch"
    assert case.output is not None
    assert record["output"] == case.output([answer])
    assert record["usage"] == body["usage"]
    assert record["batch"]["provider_batch_id"] == created["id"]
    assert record["batch"]["ended"] == {"status": "completed"}
    assert line["custom_id"] == f"{JOB_ID}/{'call' if 'embeddings' in case.name else 'round:0'}"
    # The provider's files were deleted: input, output, and Azure's (empty) error file.
    assert run.group["state"] == "done"
    deleted = {r.path.rsplit("/", 1)[1] for r in cassette.requests if r.method == "DELETE"}
    kept = {run.group[name] for name in ("input_file_id", "output_file_id", "error_file_id")}
    assert deleted == kept - {""}


@pytest.mark.parametrize("case", CALLS_CASES, ids=[case.id for case in CALLS_CASES])
def test_batch_api_finds_cancels_and_reads_the_cancelled_batchs_error_file(
    case: BatchCase,
) -> None:
    run, _ = replay_batch(case)
    calls = run.calls

    assert calls["found_file"]["id"] == calls["uploaded"]["id"]
    assert calls["found_file"]["filename"] == FILENAME
    assert calls["found_file"]["purpose"] == "batch"
    assert calls["found_batch"]["id"] == calls["created"]["id"]
    assert calls["found_batch"]["metadata"]["openai_worker_group"] == GROUP
    assert calls["created"]["input_file_id"] == calls["uploaded"]["id"]
    assert calls["cancelling"]["status"] == "cancelling"
    assert calls["cancelled"]["status"] == "cancelled"
    assert [(line["custom_id"], line["error"]["code"]) for line in calls["errors"]] == [
        (f"{JOB_ID}/round:0", "batch_cancelled")
    ]
