"""Offline replay for apps: a worker answering provider calls from cassettes.

``openai-worker run --replay DIR`` (``OPENAI_WORKER_REPLAY_DIR``) swaps the pooled
``HttpClient`` for ``ReplayHttpClient``: matching on method, path, query and JSON body
whatever the host, and failing clearly on a request nobody recorded.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from batch_cases import batch_by_id as by_batch_id
from cases import CASSETTES, by_id
from handmade import IMAGE_PNG, VECTORS
from harness import deliver
from support import SECRET_KEY

from worker.cli import main
from worker.configurations import Configuration
from worker.errors import SettingsError, TransportError
from worker.providers import provider_for
from worker.providers.batch import BatchApi, batch_layout
from worker.settings import Settings
from worker.transport.replay import ReplayHttpClient

BASIC = by_id()["openai/chat_completions_without_history/basic"]
HELLO = "Hello! How can I help you today?"


def replaying(directory: Path) -> ReplayHttpClient:
    return ReplayHttpClient(directory, timeout_s=5.0, connect_timeout_s=1.0)


def openai_configuration(endpoint: str = "https://my-app-under-test.example/v1") -> Configuration:
    return Configuration(
        name="contract", api_type="openai", endpoint=endpoint, api_key="sk-not-a-real-key-000"
    )


def test_a_recorded_request_is_answered_from_its_cassette_whatever_the_host() -> None:
    delivery = deliver(BASIC, openai_configuration(), replaying(CASSETTES))

    assert delivery.record["status"] == "succeeded"
    assert delivery.record["output"]["assistant_response_text"] == HELLO


def test_a_request_with_no_recording_fails_clearly_and_is_not_retried() -> None:
    unrecorded = BASIC.__class__(
        **{**BASIC.__dict__, "payload": {**BASIC.payload, "user_prompt": "Something new"}}
    )

    delivery = deliver(unrecorded, openai_configuration(), replaying(CASSETTES))

    error = delivery.record["error"]
    assert delivery.record["status"] == "failed"
    assert error["type"] == "transport"
    assert error["message"].startswith("offline replay: no recording for POST /v1/chat/completions")
    assert "none with this body" in error["message"]


def test_an_unknown_path_is_named_in_the_error() -> None:
    client = ReplayHttpClient(CASSETTES, timeout_s=5.0, connect_timeout_s=1.0)

    with pytest.raises(Exception, match=r"no recording for POST /v1/audio/speech \(nothing"):
        client.request("POST", "https://x.example/v1/audio/speech", headers={}, json_body={})


def write_cassette(directory: Path, request_body: Any, answer: dict[str, Any]) -> None:
    import yaml

    interaction = {
        "request": {
            "method": "POST",
            "uri": "https://api.openai.com/v1/embeddings",
            "body": request_body,
            "headers": {},
        },
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"Content-Type": ["application/json"]},
            "body": {"string": json.dumps(answer)},
        },
    }
    (directory / "mine.yaml").write_text(
        yaml.safe_dump({"interactions": [interaction], "version": 1})
    )


def test_a_hand_written_recording_without_a_body_answers_any_body(tmp_path: Path) -> None:
    write_cassette(tmp_path, None, {"object": "list", "data": []})
    client = ReplayHttpClient(tmp_path, timeout_s=5.0, connect_timeout_s=1.0)

    response = client.request(
        "POST", "http://elsewhere/v1/embeddings", headers={}, json_body={"input": "anything"}
    )

    assert response.status_code == 200
    assert response.json() == {"object": "list", "data": []}


def test_recordings_of_the_same_request_play_in_order_then_the_last_repeats(
    tmp_path: Path,
) -> None:
    import yaml

    write_cassette(tmp_path, None, {"n": 1})
    document = yaml.safe_load((tmp_path / "mine.yaml").read_text())
    second = json.loads(json.dumps(document["interactions"][0]))
    second["response"]["body"]["string"] = json.dumps({"n": 2})
    document["interactions"].append(second)
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(document))
    client = ReplayHttpClient(tmp_path, timeout_s=5.0, connect_timeout_s=1.0)

    answers = [
        client.request("POST", "http://h/v1/embeddings", headers={}, json_body={}).json()["n"]
        for _ in range(3)
    ]

    assert answers == [1, 2, 2]


def test_an_unreadable_cassette_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("interactions: [{request: {}}]\n")

    with pytest.raises(SettingsError, match="broken.yaml"):
        ReplayHttpClient(tmp_path, timeout_s=5.0, connect_timeout_s=1.0)


def test_the_replay_directory_is_read_from_the_environment() -> None:
    settings = Settings.from_env({"OPENAI_WORKER_REPLAY_DIR": "/srv/app/cassettes"})

    assert settings.replay_dir == Path("/srv/app/cassettes")
    assert Settings.from_env({}).replay_dir is None


def test_run_refuses_a_replay_directory_without_recordings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")

    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--replay", str(tmp_path)])

    assert exit_info.value.code == 2
    assert "no recordings in" in json.loads(capsys.readouterr().out)["error"]["message"]


@pytest.mark.integration
def test_a_real_worker_answers_from_cassettes_and_fails_clearly_without_one(
    redis_url: str, namespace: str, start_worker: Any
) -> None:
    from worker.client import Client

    start_worker(threads=2, OPENAI_WORKER_REPLAY_DIR=str(CASSETTES))
    client = Client(
        Settings(redis_url=redis_url, namespace=namespace, secret_keys=(SECRET_KEY,)),
        url=redis_url,
    )
    try:
        client.configurations().save(openai_configuration("https://api.openai.com/v1"))

        recorded = client.submit(
            "chat_completions_without_history", {"configuration": "contract", **BASIC.payload}
        )
        unrecorded = client.submit(
            "chat_completions_without_history",
            {"configuration": "contract", "model": "gpt-4o-mini", "user_prompt": "Unheard of"},
        )
        answered, refused = client.wait(recorded, 30), client.wait(unrecorded, 30)
    finally:
        client.close()

    assert answered["status"] == "succeeded"
    assert answered["output"]["assistant_response_text"] == HELLO
    assert refused["status"] == "failed"
    assert refused["attempts"] == 1
    assert refused["error"]["type"] == "transport"
    assert (
        "offline replay: no recording for POST /v1/chat/completions"
        in (refused["error"]["message"])
    )


def test_a_generated_image_url_is_downloaded_from_the_cassette_too() -> None:
    case = by_id()["openai/image_generations_single/url"]

    delivery = deliver(case, openai_configuration(), replaying(CASSETTES))

    output = delivery.record["output"]
    assert delivery.record["status"] == "succeeded", delivery.record["error"]
    assert base64.b64decode(output["image_base64"]) == IMAGE_PNG
    assert output["media_type"] == "image/png"


def test_a_download_nobody_recorded_fails_clearly_without_the_network() -> None:
    client = replaying(CASSETTES)

    with pytest.raises(TransportError, match=r"no recording for GET /private/images/other.png"):
        client.download(
            "https://contract-images.blob.core.windows.net/private/images/other.png",
            endpoint="https://contract.openai.azure.com",
            max_bytes=1_000_000,
            deadline_s=5,
            accept="image/*",
        )


# --- the batch tier -------------------------------------------------------------------

OPENAI_BASE = "http://127.0.0.1:9/v1"  # nothing listens there: replay never connects


def batch_line(custom_id: str, body: dict[str, Any]) -> bytes:
    line = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
    return json.dumps(line).encode() + b"\n"


def recorded_hello_line() -> dict[str, Any]:
    """The answer line of the OpenAI chat job's recorded output file."""
    import yaml

    cassette = by_batch_id()["openai/batch/chat_job"].cassette
    for interaction in yaml.safe_load(cassette.read_text())["interactions"]:
        if interaction["request"]["uri"].endswith("/content"):
            return dict(json.loads(interaction["response"]["body"]["string"]))
    raise AssertionError("no output file in the chat job's cassette")


def test_a_replayed_batch_answers_each_uploaded_line_with_its_own_custom_id() -> None:
    # Given the recordings, and a file of two lines the recordings never saw
    client = replaying(CASSETTES)
    api = BatchApi(
        batch_layout(provider_for(openai_configuration(OPENAI_BASE))), client, timeout_s=5
    )
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Other words"}]}
    content = batch_line("job-a/round:0", body) + batch_line("job-b/round:0", body)

    # When it is uploaded, made a batch, polled and read
    uploaded = api.upload("mine.jsonl", io.BytesIO(content))
    created = api.create(uploaded["id"], "/v1/chat/completions", {"openai_worker_group": "g1"})
    batch = api.get(created["id"])
    with api.lines(batch["output_file_id"]) as lines:
        answers = [json.loads(line) for line in lines]

    # Then every line has the recorded answer, under its own custom_id
    recorded = recorded_hello_line()
    assert uploaded["filename"] == "mine.jsonl"
    assert uploaded["bytes"] == len(content)
    assert created["input_file_id"] == uploaded["id"]
    assert created["metadata"] == {"openai_worker_group": "g1"}
    assert batch["status"] == "completed"
    assert batch["id"] == created["id"]
    assert [a["custom_id"] for a in answers] == ["job-a/round:0", "job-b/round:0"]
    assert all(a["response"] == recorded["response"] for a in answers)
    assert recorded["response"]["body"]["choices"][0]["message"]["content"] == HELLO
    api.delete_file(uploaded["id"])
    api.delete_file(batch["output_file_id"])


def test_two_replayed_batches_in_flight_keep_their_own_lines() -> None:
    client = replaying(CASSETTES)
    api = BatchApi(
        batch_layout(provider_for(openai_configuration(OPENAI_BASE))), client, timeout_s=5
    )
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    first = api.upload("one.jsonl", io.BytesIO(batch_line("one/round:0", body)))
    second = api.upload("two.jsonl", io.BytesIO(batch_line("two/round:0", body)))
    batches = [
        api.create(uploaded["id"], "/v1/chat/completions", {}) for uploaded in (first, second)
    ]

    read = []
    for created in batches:
        with api.lines(api.get(created["id"])["output_file_id"]) as lines:
            read.append([json.loads(line)["custom_id"] for line in lines])

    assert first["id"] != second["id"]
    assert batches[0]["id"] != batches[1]["id"]
    assert read == [["one/round:0"], ["two/round:0"]]


@pytest.mark.integration
def test_a_real_worker_runs_batch_tier_jobs_offline_from_cassettes(
    redis_url: str, namespace: str, start_worker: Any
) -> None:
    from worker.client import Client

    # Given a worker replaying this repository's cassettes, a configuration whose
    # endpoint nothing listens on, and a short batch window
    start_worker(
        threads=2,
        OPENAI_WORKER_REPLAY_DIR=str(CASSETTES),
        OPENAI_WORKER_BATCH_WINDOW_S="1",
        OPENAI_WORKER_BATCH_POLL_MIN_S="0.2",
        OPENAI_WORKER_BATCH_POLL_MAX_S="0.5",
    )
    client = Client(
        Settings(redis_url=redis_url, namespace=namespace, secret_keys=(SECRET_KEY,)),
        url=redis_url,
    )
    try:
        client.configurations().save(openai_configuration(OPENAI_BASE))
        # When a chat job and an embeddings job are sent through the batch tier
        chat = client.submit(
            "chat_completions_without_history",
            {"configuration": "contract", "model": "gpt-4o-mini", "user_prompt": "Anything"},
            tier="batch",
        )
        vector = client.submit(
            "embeddings_single_input",
            {"configuration": "contract", "model": "text-embedding-3-small", "input": "Words"},
            tier="batch",
        )
        chatted, embedded = client.wait(chat, 60), client.wait(vector, 60)
    finally:
        client.close()

    # Then both end with the recorded answers, each through a provider batch
    assert chatted["status"] == "succeeded", chatted
    assert chatted["tier"] == "batch"
    assert chatted["batch"]["ended"] == {"status": "completed"}
    assert chatted["output"]["assistant_response_text"] == HELLO
    assert embedded["status"] == "succeeded", embedded
    assert embedded["batch"]["provider_batch_id"] != chatted["batch"]["provider_batch_id"]
    assert embedded["output"]["embedding_vector"] == pytest.approx(VECTORS[0], rel=1e-6)
