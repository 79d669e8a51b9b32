"""The local Batch API server speaks each wire layout, runs the lifecycle, and scripts faults.

Real HTTP through ``requests`` (and, once per layout, the official ``openai`` client).
"""

from __future__ import annotations

import base64
import io
import json
import struct
import time
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from batch_api.multipart import boundary_of, read_form
from batch_api_server import DEFAULT_API_KEY, BatchApi, embedding_for, serve_batch_api

MODEL = "gpt-4o-mini-batch"
TERMINAL = {"completed", "failed", "expired", "cancelled"}


@dataclass(frozen=True)
class Wire:
    """One URL layout, as a client of it sends requests."""

    name: str
    prefix: str
    headers: dict[str, str]
    query: dict[str, str]
    chat_url: str  # the url in the lines
    chat_endpoint: str  # the batch's endpoint
    embeddings_url: str


OPENAI = Wire(
    "openai",
    "/v1",
    {"Authorization": f"Bearer {DEFAULT_API_KEY}"},
    {},
    "/v1/chat/completions",
    "/v1/chat/completions",
    "/v1/embeddings",
)
AZURE_DATED = Wire(
    "azure_dated",
    "/openai",
    {"api-key": DEFAULT_API_KEY},
    {"api-version": "2024-10-21"},
    "/chat/completions",
    "/chat/completions",
    "/embeddings",
)
# Microsoft's v1 how-to: lines name "/v1/chat/completions", the batch "/chat/completions".
AZURE_V1 = Wire(
    "azure_v1",
    "/openai/v1",
    {"api-key": DEFAULT_API_KEY},
    {},
    "/v1/chat/completions",
    "/chat/completions",
    "/v1/embeddings",
)
WIRES = [OPENAI, AZURE_DATED, AZURE_V1]


class Client:
    """A small client of one layout of the server."""

    def __init__(self, api: BatchApi, wire: Wire) -> None:
        self.api = api
        self.wire = wire
        self.session = requests.Session()

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.wire.headers, **kwargs.pop("headers", {})}
        params = {**self.wire.query, **kwargs.pop("params", {})}
        url = f"{self.api.url}{self.wire.prefix}{path}"
        return self.session.request(method, url, headers=headers, params=params, **kwargs)

    def upload(self, lines: list[dict[str, Any]] | bytes, purpose: str = "batch") -> Any:
        content = lines if isinstance(lines, bytes) else jsonl(lines)
        files = {"file": ("jobs.jsonl", content, "application/jsonl")}
        return self.call("POST", "/files", files=files, data={"purpose": purpose})

    def upload_id(self, lines: list[dict[str, Any]]) -> str:
        reply = self.upload(lines)
        assert reply.status_code in (200, 201), reply.text
        return str(reply.json()["id"])

    def create(self, file_id: str, endpoint: str | None = None, **extra: Any) -> Any:
        body = {
            "input_file_id": file_id,
            "endpoint": endpoint or self.wire.chat_endpoint,
            "completion_window": "24h",
            **extra,
        }
        return self.call("POST", "/batches", json=body)

    def start(self, lines: list[dict[str, Any]], endpoint: str | None = None) -> str:
        reply = self.create(self.upload_id(lines), endpoint)
        assert reply.status_code == 200, reply.text
        return str(reply.json()["id"])

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        reply = self.call("GET", f"/batches/{batch_id}")
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def until_done(self, batch_id: str) -> tuple[list[str], dict[str, Any]]:
        """Poll to a final state: the states seen, and the final batch."""
        states = []
        for _ in range(100):
            batch = self.retrieve(batch_id)
            states.append(batch["status"])
            if batch["status"] in TERMINAL:
                return states, batch
        raise AssertionError(f"batch {batch_id} never finished: {states[-5:]}")

    def lines_of(self, file_id: str | None) -> list[dict[str, Any]]:
        assert file_id is not None
        reply = self.call("GET", f"/files/{file_id}/content")
        assert reply.status_code == 200, reply.text
        return [json.loads(line) for line in reply.content.splitlines()]


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def chat_lines(wire: Wire, count: int, **body: Any) -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"job-{i}",
            "method": "POST",
            "url": wire.chat_url,
            "body": {"model": MODEL, "messages": [{"role": "user", "content": f"q{i}"}], **body},
        }
        for i in range(count)
    ]


def by_custom_id(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["custom_id"]: line for line in lines}


def content_of(line: dict[str, Any]) -> str:
    return str(line["response"]["body"]["choices"][0]["message"]["content"])


@pytest.fixture(params=WIRES, ids=lambda wire: wire.name)
def client(request: pytest.FixtureRequest, api: BatchApi) -> Client:
    return Client(api, request.param)


# --- the lifecycle, in each layout -------------------------------------------------------


def test_a_chat_batch_runs_from_upload_to_answers_that_name_their_custom_id(
    client: Client,
) -> None:
    # Given an uploaded input file of three chat requests
    upload = client.upload(chat_lines(client.wire, 3))
    stored = upload.json()
    if client.wire is AZURE_DATED:  # that API's spec: 201 Created, with a Location
        assert upload.status_code == 201
        assert upload.headers["Location"] == f"{client.api.url}/openai/files/{stored['id']}"
    else:
        assert upload.status_code == 200
    assert stored["id"].startswith("file-")
    assert {k: stored[k] for k in ("object", "purpose", "status", "filename")} == {
        "object": "file",
        "purpose": "batch",
        "status": "processed",
        "filename": "jobs.jsonl",
    }
    assert stored["bytes"] == len(jsonl(chat_lines(client.wire, 3)))

    # When a batch is created from it and polled to the end
    created = client.create(stored["id"], metadata={"run": "nightly"})
    assert created.status_code == 200, created.text
    batch = created.json()
    assert batch["status"] == "validating"
    assert batch["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert batch["metadata"] == {"run": "nightly"}
    assert batch["endpoint"] == client.wire.chat_endpoint
    states, final = client.until_done(batch["id"])

    # Then it went through every state, and each answer names its request
    assert states == ["in_progress", "finalizing", "completed"]
    assert final["request_counts"] == {"total": 3, "completed": 3, "failed": 0}
    assert all(final[f"{s}_at"] for s in ("in_progress", "finalizing", "completed"))
    answers = by_custom_id(client.lines_of(final["output_file_id"]))
    assert set(answers) == {"job-0", "job-1", "job-2"}
    for custom_id, line in answers.items():
        assert line["error"] is None
        assert line["id"].startswith("batch_req_")
        assert line["response"]["status_code"] == 200
        body = line["response"]["body"]
        assert body["object"] == "chat.completion"
        assert body["model"] == MODEL
        assert body["usage"]["total_tokens"] > 0
        assert content_of(line) == f"answer to {custom_id}"


def test_an_openai_batch_has_no_error_file_when_nothing_failed(api: BatchApi) -> None:
    client = Client(api, OPENAI)
    _, final = client.until_done(client.start(chat_lines(OPENAI, 2)))
    assert final["error_file_id"] is None
    assert final["model"] == MODEL


@pytest.mark.parametrize("wire", [AZURE_DATED, AZURE_V1], ids=lambda w: w.name)
def test_an_azure_batch_has_an_empty_error_file_even_when_nothing_failed(
    api: BatchApi, wire: Wire
) -> None:
    # Microsoft's troubleshooting notes: successful jobs still get an error_file_id.
    client = Client(api, wire)
    _, final = client.until_done(client.start(chat_lines(wire, 2)))
    assert final["error_file_id"] is not None
    assert client.lines_of(final["error_file_id"]) == []


def test_a_structured_output_request_is_answered_with_its_custom_id_as_json(
    client: Client,
) -> None:
    schema = {"type": "object", "properties": {"custom_id": {"type": "string"}}}
    formats = {
        "schema": {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
        "object": {"type": "json_object"},
    }
    lines = chat_lines(client.wire, 2)
    lines[0]["body"]["response_format"] = formats["schema"]
    lines[1]["body"]["response_format"] = formats["object"]
    _, final = client.until_done(client.start(lines))
    answers = by_custom_id(client.lines_of(final["output_file_id"]))
    assert json.loads(content_of(answers["job-0"])) == {"custom_id": "job-0"}
    assert json.loads(content_of(answers["job-1"])) == {"custom_id": "job-1"}


@pytest.mark.parametrize("wire", WIRES, ids=lambda w: w.name)
def test_an_embeddings_batch_answers_one_vector_per_input_in_the_asked_encoding(
    api: BatchApi, wire: Wire
) -> None:
    client = Client(api, wire)
    lines = [
        {
            "custom_id": "one",
            "method": "POST",
            "url": wire.embeddings_url,
            "body": {"model": MODEL, "input": "a text"},
        },
        {
            "custom_id": "many",
            "method": "POST",
            "url": wire.embeddings_url,
            "body": {"model": MODEL, "input": ["x", "y", "z"], "dimensions": 5},
        },
        {
            "custom_id": "packed",
            "method": "POST",
            "url": wire.embeddings_url,
            "body": {"model": MODEL, "input": ["p", "q"], "encoding_format": "base64"},
        },
    ]
    endpoint = "/v1/embeddings" if wire is OPENAI else "/embeddings"
    _, final = client.until_done(client.start(lines, endpoint))
    answers = {
        k: v["response"]["body"]
        for k, v in by_custom_id(client.lines_of(final["output_file_id"])).items()
    }

    assert [d["embedding"] for d in answers["one"]["data"]] == [embedding_for("one", 0)]
    assert [d["index"] for d in answers["many"]["data"]] == [0, 1, 2]
    assert answers["many"]["data"][2]["embedding"] == embedding_for("many", 2, 5)
    packed = answers["packed"]["data"][1]["embedding"]
    assert list(struct.unpack("<8f", base64.b64decode(packed))) == embedding_for("packed", 1)
    assert answers["one"]["object"] == "list"
    assert answers["one"]["usage"]["prompt_tokens"] > 0


@pytest.mark.parametrize("wire", [OPENAI, AZURE_V1], ids=lambda w: w.name)
def test_a_responses_batch_answers_with_a_completed_response(api: BatchApi, wire: Wire) -> None:
    client = Client(api, wire)
    url = "/v1/responses"
    lines = [
        {"custom_id": "r-1", "method": "POST", "url": url, "body": {"model": MODEL, "input": "hi"}}
    ]
    _, final = client.until_done(client.start(lines, url))
    (line,) = client.lines_of(final["output_file_id"])
    body = line["response"]["body"]
    assert body["object"] == "response"
    assert body["status"] == "completed"
    assert body["output"][0]["content"][0] == {
        "type": "output_text",
        "text": "answer to r-1",
        "annotations": [],
        "logprobs": [],
    }
    assert body["output_text"] == "answer to r-1"


def test_each_state_holds_for_polls_per_step_polls() -> None:
    with serve_batch_api(polls_per_step=3) as api:
        client = Client(api, OPENAI)
        states, _ = client.until_done(client.start(chat_lines(OPENAI, 3)))
    assert states == ["validating"] * 2 + ["in_progress"] * 3 + ["finalizing"] * 3 + ["completed"]


def test_counts_grow_while_the_batch_is_in_progress() -> None:
    with serve_batch_api(polls_per_step=4) as api:
        client = Client(api, OPENAI)
        batch_id = client.start(chat_lines(OPENAI, 8))
        polls = [client.retrieve(batch_id) for _ in range(8)]
    running = [p["request_counts"]["completed"] for p in polls if p["status"] == "in_progress"]
    assert running == [0, 2, 4, 6]
    assert polls[-1]["status"] == "finalizing"
    assert polls[-1]["request_counts"]["completed"] == 8


# --- scripted faults ---------------------------------------------------------------------


def test_requests_scripted_to_fail_land_in_the_error_file_with_their_status(
    client: Client,
) -> None:
    # Given job-1 fails with 400 and job-2 with 500
    client.api.fail_custom_ids = lambda custom_id: {"job-1": 400, "job-2": 500}.get(custom_id)
    _, final = client.until_done(client.start(chat_lines(client.wire, 4)))

    # Then the output holds the others, the error file those two, each with its status
    assert final["status"] == "completed"
    assert final["request_counts"] == {"total": 4, "completed": 2, "failed": 2}
    assert set(by_custom_id(client.lines_of(final["output_file_id"]))) == {"job-0", "job-3"}
    errors = by_custom_id(client.lines_of(final["error_file_id"]))
    assert set(errors) == {"job-1", "job-2"}
    assert errors["job-1"]["response"]["status_code"] == 400
    assert errors["job-1"]["response"]["body"]["error"]["type"] == "invalid_request_error"
    assert errors["job-2"]["response"]["status_code"] == 500
    assert errors["job-2"]["response"]["body"]["error"]["type"] == "server_error"
    assert errors["job-2"]["error"] is None


def test_a_set_of_failing_custom_ids_fails_them_with_500() -> None:
    with serve_batch_api(fail_custom_ids={"job-0"}) as api:
        client = Client(api, OPENAI)
        _, final = client.until_done(client.start(chat_lines(OPENAI, 2)))
        (error,) = client.lines_of(final["error_file_id"])
    assert (error["custom_id"], error["response"]["status_code"]) == ("job-0", 500)


def test_a_fault_set_while_a_batch_runs_applies_to_the_requests_not_yet_run() -> None:
    with serve_batch_api(polls_per_step=2) as api:
        client = Client(api, OPENAI)
        batch_id = client.start(chat_lines(OPENAI, 4))
        # Given the first half has run (2 polls validating, 1 in progress)
        for _ in range(3):
            client.retrieve(batch_id)
        # When every request is then scripted to fail
        api.fail_custom_ids = lambda _custom_id: 500
        _, final = client.until_done(batch_id)
        errors = client.lines_of(final["error_file_id"])
    # Then only the second half failed
    assert final["request_counts"] == {"total": 4, "completed": 2, "failed": 2}
    assert sorted(e["custom_id"] for e in errors) == ["job-2", "job-3"]


def test_a_batch_scripted_to_fail_validation_ends_failed_with_its_errors(client: Client) -> None:
    client.api.validation_fails = True
    states, final = client.until_done(client.start(chat_lines(client.wire, 2)))
    assert states == ["failed"]
    assert final["failed_at"] is not None
    assert final["output_file_id"] is None
    assert final["errors"]["object"] == "list"
    (error,) = final["errors"]["data"]
    assert set(error) >= {"code", "message", "line"}


def test_an_expiring_batch_answers_the_first_requests_and_expires_the_rest(
    client: Client,
) -> None:
    # Given a batch that expires after completing 2 of its 5 requests
    client.api.expire_after = 2
    states, final = client.until_done(client.start(chat_lines(client.wire, 5)))

    # Then it expired with those 2 answered and the other 3 marked batch_expired
    assert states == ["in_progress", "expired"]
    assert final["expired_at"] is not None
    assert final["request_counts"] == {"total": 5, "completed": 2, "failed": 0}
    assert set(by_custom_id(client.lines_of(final["output_file_id"]))) == {"job-0", "job-1"}
    expired = by_custom_id(client.lines_of(final["error_file_id"]))
    assert set(expired) == {"job-2", "job-3", "job-4"}
    assert all(line["response"] is None for line in expired.values())
    assert {line["error"]["code"] for line in expired.values()} == {"batch_expired"}


def test_a_batch_cancelled_part_way_returns_what_ran_and_marks_the_rest_cancelled(
    client: Client,
) -> None:
    # Given half of a batch has run
    client.api.polls_per_step = 2
    batch_id = client.start(chat_lines(client.wire, 4))
    for _ in range(3):
        client.retrieve(batch_id)

    # When it is cancelled
    cancelled = client.call("POST", f"/batches/{batch_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelling"
    assert cancelled.json()["cancelling_at"] is not None

    # Then the next poll finds it cancelled, with the half that ran in its output
    final = client.retrieve(batch_id)
    assert final["status"] == "cancelled"
    assert final["cancelled_at"] is not None
    assert set(by_custom_id(client.lines_of(final["output_file_id"]))) == {"job-0", "job-1"}
    not_run = by_custom_id(client.lines_of(final["error_file_id"]))
    assert set(not_run) == {"job-2", "job-3"}
    assert {line["error"]["code"] for line in not_run.values()} == {"batch_cancelled"}


def test_a_batch_cancelled_while_validating_has_no_output(api: BatchApi) -> None:
    client = Client(api, OPENAI)
    batch_id = client.start(chat_lines(OPENAI, 2))
    client.call("POST", f"/batches/{batch_id}/cancel")
    final = client.retrieve(batch_id)
    assert final["status"] == "cancelled"
    assert final["output_file_id"] is None
    assert len(client.lines_of(final["error_file_id"])) == 2


def test_a_finished_batch_cannot_be_cancelled(api: BatchApi) -> None:
    client = Client(api, OPENAI)
    batch_id = client.start(chat_lines(OPENAI, 1))
    client.until_done(batch_id)
    refused = client.call("POST", f"/batches/{batch_id}/cancel")
    assert refused.status_code == 409
    assert "completed" in refused.json()["error"]["message"]


def test_shuffled_output_still_maps_each_answer_to_its_request() -> None:
    with serve_batch_api(shuffle_output=True) as api:
        client = Client(api, OPENAI)
        _, final = client.until_done(client.start(chat_lines(OPENAI, 50)))
        lines = client.lines_of(final["output_file_id"])
    assert [line["custom_id"] for line in lines] != [f"job-{i}" for i in range(50)]
    assert all(content_of(line) == f"answer to {line['custom_id']}" for line in lines)


def test_a_pending_file_is_processed_after_polls_and_refused_until_then() -> None:
    with serve_batch_api(file_processing_polls=2) as api:
        client = Client(api, AZURE_DATED)
        stored = client.upload(chat_lines(AZURE_DATED, 1)).json()
        assert stored["status"] == "pending"
        assert client.create(stored["id"]).status_code == 400
        statuses = [client.call("GET", f"/files/{stored['id']}").json()["status"] for _ in range(2)]
        assert statuses == ["pending", "processed"]
        assert client.create(stored["id"]).status_code == 200


# --- lists, files, the request log -------------------------------------------------------


def test_batches_list_newest_first_in_pages_with_their_metadata(api: BatchApi) -> None:
    client = Client(api, AZURE_DATED)
    file_id = client.upload_id(chat_lines(AZURE_DATED, 1))
    ids = [client.create(file_id, metadata={"n": str(n)}).json()["id"] for n in range(3)]

    first = client.call("GET", "/batches", params={"limit": 2}).json()
    assert [b["id"] for b in first["data"]] == [ids[2], ids[1]]
    assert [b["metadata"] for b in first["data"]] == [{"n": "2"}, {"n": "1"}]
    assert (first["object"], first["has_more"]) == ("list", True)
    assert (first["first_id"], first["last_id"]) == (ids[2], ids[1])

    rest = client.call("GET", "/batches", params={"limit": 2, "after": ids[1]}).json()
    assert [b["id"] for b in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False
    # Listing does not advance a batch
    assert all(b["status"] == "validating" for b in first["data"] + rest["data"])


def test_files_list_by_purpose_and_order_in_pages(api: BatchApi) -> None:
    client = Client(api, OPENAI)
    batch_id = client.start(chat_lines(OPENAI, 1))
    second_input = client.upload_id(chat_lines(OPENAI, 2))
    _, final = client.until_done(batch_id)

    inputs = client.call("GET", "/files", params={"purpose": "batch", "order": "asc"}).json()
    outputs = client.call("GET", "/files", params={"purpose": "batch_output"}).json()
    newest = client.call("GET", "/files", params={"limit": 1}).json()

    assert [f["id"] for f in inputs["data"]][1] == second_input
    assert [f["purpose"] for f in inputs["data"]] == ["batch", "batch"]
    assert [f["id"] for f in outputs["data"]] == [final["output_file_id"]]
    assert [f["id"] for f in newest["data"]] == [final["output_file_id"]]
    assert newest["has_more"] is True


@pytest.mark.parametrize(
    ("wire", "fields", "lifetime"),
    [
        (OPENAI, {}, 30 * 24 * 3600),  # OpenAI: batch files expire after 30 days
        (AZURE_V1, {}, None),  # Azure: kept until deleted
        (OPENAI, {"expires_after[anchor]": "created_at", "expires_after[seconds]": "3600"}, 3600),
        (
            AZURE_V1,
            {"expires_after.anchor": "created_at", "expires_after.seconds": "1209600"},
            1209600,
        ),
    ],
    ids=["openai-default", "azure-default", "openai-given", "azure-given"],
)
def test_an_upload_expires_as_its_layout_and_expires_after_say(
    api: BatchApi, wire: Wire, fields: dict[str, str], lifetime: int | None
) -> None:
    files = {"file": ("a.jsonl", jsonl(chat_lines(wire, 1)))}
    stored = (
        Client(api, wire)
        .call("POST", "/files", files=files, data={"purpose": "batch", **fields})
        .json()
    )
    expected = None if lifetime is None else stored["created_at"] + lifetime
    assert stored["expires_at"] == expected


def test_a_file_is_retrieved_downloaded_and_deleted(client: Client) -> None:
    content = jsonl(chat_lines(client.wire, 2))
    file_id = client.upload(content).json()["id"]

    assert client.call("GET", f"/files/{file_id}").json()["bytes"] == len(content)
    assert client.call("GET", f"/files/{file_id}/content").content == content
    deleted = client.call("DELETE", f"/files/{file_id}")
    assert deleted.json() == {"id": file_id, "object": "file", "deleted": True}
    assert client.call("GET", f"/files/{file_id}").status_code == 404


def test_the_request_log_keeps_every_request_without_auth_values(api: BatchApi) -> None:
    client = Client(api, AZURE_DATED)
    client.start(chat_lines(AZURE_DATED, 1))
    log = api.requests
    assert [(r.method, r.path) for r in log] == [
        ("POST", "/openai/files"),
        ("POST", "/openai/batches"),
    ]
    upload, create = log
    assert upload.query == {"api-version": "2024-10-21"}
    assert upload.content_type is not None
    assert upload.content_type.startswith("multipart/form-data; boundary=")
    assert upload.body_length > 0
    assert create.content_type == "application/json"
    assert all(r.auth_present for r in log)
    assert all("api-key" not in r.headers and "authorization" not in r.headers for r in log)
    assert DEFAULT_API_KEY not in repr(log)
    assert (api.files_uploaded, api.batches_created) == (1, 1)


def test_a_batchs_stored_input_lines_can_be_read_back(api: BatchApi) -> None:
    client = Client(api, OPENAI)
    lines = chat_lines(OPENAI, 3)
    assert api.input_lines(client.start(lines)) == lines


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "headers"),
    [
        (OPENAI, {}),
        (OPENAI, {"Authorization": "Bearer wrong"}),
        (OPENAI, {"api-key": DEFAULT_API_KEY}),  # OpenAI takes no api-key header
        (AZURE_DATED, {}),
        (AZURE_DATED, {"api-key": "wrong"}),
        (AZURE_V1, {"Authorization": "Bearer wrong"}),
    ],
    ids=["openai-none", "openai-wrong", "openai-api-key", "dated-none", "dated-wrong", "v1-bad"],
)
def test_a_missing_or_wrong_key_is_refused_with_401(
    api: BatchApi, wire: Wire, headers: dict[str, str]
) -> None:
    url = f"{api.url}{wire.prefix}/batches"
    refused = requests.get(url, headers=headers, params=wire.query, timeout=10)
    assert refused.status_code == 401
    assert set(refused.json()["error"]) >= {"message", "type", "code"}


def test_azure_takes_an_entra_token_as_a_bearer() -> None:
    with serve_batch_api(entra_token="entra-token-xyz") as api:
        url = f"{api.url}/openai/batches"
        headers = {"Authorization": "Bearer entra-token-xyz"}
        answer = requests.get(url, headers=headers, params={"api-version": "v"}, timeout=10)
        on_openai = requests.get(f"{api.openai_base_url}/batches", headers=headers, timeout=10)
    assert answer.status_code == 200
    assert on_openai.status_code == 401


def test_the_dated_azure_layout_requires_an_api_version(api: BatchApi) -> None:
    refused = requests.get(f"{api.url}/openai/batches", headers=AZURE_DATED.headers, timeout=10)
    assert refused.status_code == 400
    assert "api-version" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/files/file-nope"),
        ("GET", "/files/file-nope/content"),
        ("DELETE", "/files/file-nope"),
        ("GET", "/batches/batch_nope"),
        ("POST", "/batches/batch_nope/cancel"),
    ],
)
def test_unknown_ids_are_404_in_the_error_shape(client: Client, method: str, path: str) -> None:
    missing = client.call(method, path)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert "nope" in missing.json()["error"]["message"]


def test_an_unknown_path_is_404(api: BatchApi) -> None:
    assert Client(api, OPENAI).call("GET", "/models").status_code == 404


def line(custom_id: str = "a", url: str = "/v1/chat/completions", model: str = MODEL) -> str:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": body})


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"{not json\n", "invalid_json_line"),
        (b"\xef\xbb\xbf" + line().encode(), "invalid_json_line"),  # a UTF-8 byte-order mark
        (f"{line('a')}\n{line('a')}\n".encode(), "duplicate_custom_id"),
        (f"{line('a')}\n{line('b', model='other')}\n".encode(), "model_mismatch"),
        (f"{line('a')}\n{line('b', url='/v1/embeddings')}\n".encode(), "url_mismatch"),
        (line(url="/chat/completions").encode(), "invalid_request"),  # Azure's url on OpenAI
        (line().replace('"POST"', '"GET"').encode(), "invalid_request"),
        (line().replace('"custom_id": "a"', '"custom_id": 7').encode(), "invalid_request"),
        (line().replace(f'"model": "{MODEL}", ', "").encode(), "invalid_request"),
        (b"\n", "empty_batch"),
    ],
    ids=[
        "not-json",
        "bom",
        "duplicate",
        "two-models",
        "two-urls",
        "azure-url",
        "get",
        "id-not-string",
        "no-model",
        "empty",
    ],
)
def test_an_input_file_with_a_bad_line_is_refused(api: BatchApi, content: bytes, code: str) -> None:
    refused = Client(api, OPENAI).upload(content)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == code
    assert api.files_uploaded == 0


def test_an_openai_style_line_is_refused_by_the_dated_azure_layout(api: BatchApi) -> None:
    refused = Client(api, AZURE_DATED).upload(line().encode())
    assert refused.status_code == 400
    assert "/chat/completions" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    ("files", "data", "param"),
    [
        ({"file": ("a.jsonl", line().encode())}, {"purpose": "fine-tune"}, "purpose"),
        ({"file": ("a.jsonl", line().encode())}, {}, "purpose"),
        ({"other": ("a.jsonl", line().encode())}, {"purpose": "batch"}, "file"),
    ],
    ids=["wrong-purpose", "no-purpose", "no-file"],
)
def test_an_upload_without_its_parts_is_refused(
    api: BatchApi, files: dict[str, Any], data: dict[str, str], param: str
) -> None:
    refused = Client(api, OPENAI).call("POST", "/files", files=files, data=data)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == param


def test_an_upload_that_is_not_multipart_is_refused(api: BatchApi) -> None:
    refused = Client(api, OPENAI).call("POST", "/files", json={"purpose": "batch"})
    assert refused.status_code == 400
    assert "multipart" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    ("change", "status", "param"),
    [
        ({"endpoint": "/v1/embeddings"}, 400, "endpoint"),
        ({"endpoint": "/v1/images/generations"}, 400, "endpoint"),
        ({"completion_window": "48h"}, 400, "completion_window"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, 400, "metadata"),
        ({"metadata": {"k": 1}}, 400, "metadata"),
        ({"metadata": {"k" * 65: "v"}}, 400, "metadata"),
        ({"input_file_id": "file-nope"}, 404, None),
    ],
    ids=["other-url", "unsupported", "window", "17-pairs", "not-string", "long-key", "no-file"],
)
def test_a_batch_that_breaks_the_spec_is_refused(
    api: BatchApi, change: dict[str, Any], status: int, param: str | None
) -> None:
    client = Client(api, OPENAI)
    body = {
        "input_file_id": client.upload_id(chat_lines(OPENAI, 1)),
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        **change,
    }
    refused = client.call("POST", "/batches", json=body)
    assert refused.status_code == status
    assert refused.json()["error"]["param"] == param
    assert api.batches_created == 0


def test_an_output_file_cannot_be_a_batch_input(api: BatchApi) -> None:
    client = Client(api, OPENAI)
    _, final = client.until_done(client.start(chat_lines(OPENAI, 1)))
    refused = client.create(final["output_file_id"])
    assert refused.status_code == 400
    assert "purpose" in refused.json()["error"]["message"]


def test_a_refused_upload_leaves_the_connection_usable(api: BatchApi) -> None:
    # Given a keep-alive session whose large upload is refused for its key
    client = Client(api, OPENAI)
    big = jsonl(chat_lines(OPENAI, 20000))
    refused = client.call(
        "POST",
        "/files",
        headers={"Authorization": "Bearer wrong"},
        files={"file": ("a.jsonl", big)},
        data={"purpose": "batch"},
    )
    assert refused.status_code == 401
    # Then the next request on the same connection is answered normally
    assert client.call("GET", "/batches").status_code == 200


# --- scale, the official client, the multipart reader -----------------------------------


def test_a_hundred_thousand_line_batch_uploads_runs_and_downloads_in_seconds(
    api: BatchApi,
) -> None:
    client = Client(api, OPENAI)
    started = time.monotonic()
    _, final = client.until_done(client.start(chat_lines(OPENAI, 100_000)))
    output = client.call("GET", f"/files/{final['output_file_id']}/content").content
    elapsed = time.monotonic() - started
    assert final["request_counts"]["completed"] == 100_000
    answers = output.splitlines()
    assert len(answers) == 100_000
    assert content_of(json.loads(answers[-1])) == "answer to job-99999"
    assert elapsed < 60, f"took {elapsed:.1f} s"


@pytest.mark.parametrize("wire", WIRES, ids=lambda w: w.name)
def test_the_official_openai_client_runs_a_batch_in_each_layout(api: BatchApi, wire: Wire) -> None:
    from openai import AzureOpenAI, OpenAI

    sdk: OpenAI
    if wire is AZURE_DATED:
        sdk = AzureOpenAI(azure_endpoint=api.url, api_key=DEFAULT_API_KEY, api_version="2024-10-21")
    else:
        sdk = OpenAI(base_url=f"{api.url}{wire.prefix}", api_key=DEFAULT_API_KEY)
    upload = sdk.files.create(
        file=("in.jsonl", io.BytesIO(jsonl(chat_lines(wire, 2)))), purpose="batch"
    )
    batch = sdk.batches.create(
        input_file_id=upload.id,
        # Azure's "/chat/completions" is not among the SDK's literal endpoint types.
        endpoint=wire.chat_endpoint,  # type: ignore[arg-type]
        completion_window="24h",
    )
    while batch.status not in TERMINAL:
        batch = sdk.batches.retrieve(batch.id)
    assert batch.status == "completed"
    assert batch.output_file_id is not None
    text = sdk.files.content(batch.output_file_id).text
    answers = by_custom_id([json.loads(line) for line in text.splitlines()])
    assert content_of(answers["job-1"]) == "answer to job-1"


def test_the_multipart_reader_finds_boundaries_split_across_reads(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import batch_api.multipart as multipart

    # Given a body whose delimiters fall across tiny reads, and a file with look-alike bytes
    monkeypatch.setattr(multipart, "CHUNK", 7)
    content = b"line one\r\n--not-the-boundary\r\n--boundar\r\nend"
    body = (
        b"preamble\r\n--boundary\r\n"
        b'Content-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--boundary\r\n'
        b'Content-Disposition: form-data; name="file"; filename="x.jsonl"\r\n'
        b"Content-Type: application/jsonl\r\n\r\n" + content + b"\r\n--boundary--\r\nepilogue"
    )
    stream = io.BytesIO(body)

    # When it is read
    form = read_form(
        stream,
        len(body),
        boundary_of('multipart/form-data; boundary="boundary"'),
        tmp_path,
        frozenset({"file"}),
    )

    # Then the field and the file come out whole, and the body is consumed
    assert form.fields == {"purpose": "batch"}
    part = form.files["file"]
    assert (part.filename, part.content_type, part.size) == (
        "x.jsonl",
        "application/jsonl",
        len(content),
    )
    assert part.path.read_bytes() == content
    assert stream.tell() == len(body)
