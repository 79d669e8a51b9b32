"""The image generation operations over real HTTP, every wire variant."""

from __future__ import annotations

import base64
from typing import Any

from support import OPENAI_KEY, Recorded, Reply, make_configuration

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 64


def images_answer(image: dict[str, Any]) -> dict[str, Any]:
    return {"created": 1700000000, "data": [image]}


def test_a_base64_answer_is_returned_with_its_media_type_and_revised_prompt(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    encoded = base64.b64encode(JPEG).decode()
    wire_server.script(
        Reply(json=images_answer({"b64_json": encoded, "revised_prompt": "An otter"}))
    )
    harness = run_job(provider_config)

    record = harness.run(
        "image_generations_single",
        {
            "configuration": "test",
            "prompt": "otter",
            "model": "dall-e-3",
            "size": "1024x1792",
            "quality": "hd",
            "style": "natural",
            "response_format": "b64_json",
            "user": "user-1",
        },
    )

    assert record["success"] is True, record["error"]
    assert record["output"] == {
        "image_base64": encoded,
        "media_type": "image/jpeg",
        "revised_prompt": "An otter",
    }
    body = wire_server.last.json
    assert wire_server.last.path.endswith("/images/generations")
    assert body["prompt"] == "otter"
    assert (body["size"], body["quality"], body["style"]) == ("1024x1792", "hd", "natural")
    assert body["response_format"] == "b64_json"
    assert ("model" in body) is (provider_config.api_type == "openai")


def test_a_url_answer_is_downloaded_at_once_without_the_api_key(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    def serve(request: Recorded) -> Reply:
        if request.path == "/files/otter.png":
            return Reply(body=PNG, headers={"Content-Type": "image/png"})
        return Reply(json=images_answer({"url": f"{wire_server.url}/files/otter.png?sig=abc"}))

    wire_server.handler = serve
    harness = run_job(provider_config)

    record = harness.run("image_generations_single", {"configuration": "test", "prompt": "otter"})

    assert record["success"] is True, record["error"]
    assert base64.b64decode(record["output"]["image_base64"]) == PNG
    assert record["output"]["media_type"] == "image/png"
    assert record["output"]["revised_prompt"] is None
    download = wire_server.last
    assert download.method == "GET"
    assert download.query == {"sig": "abc"}
    assert "authorization" not in download.headers
    assert "api-key" not in download.headers


def test_openai_sends_no_model_when_none_is_given_so_the_api_default_applies(
    run_job: Any, wire_server: Any
) -> None:
    encoded = base64.b64encode(PNG).decode()
    wire_server.script(Reply(json=images_answer({"b64_json": encoded})))
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run("image_generations_single", {"configuration": "test", "prompt": "otter"})

    assert record["success"] is True
    assert "model" not in wire_server.last.json
    assert wire_server.last.headers["authorization"] == f"Bearer {OPENAI_KEY}"


def test_a_plain_http_url_on_another_host_is_not_downloaded(run_job: Any, wire_server: Any) -> None:
    url = "http://images.example.invalid/otter.png"
    wire_server.script(Reply(json=images_answer({"url": url})))
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=3)

    record = harness.run("image_generations_single", {"configuration": "test", "prompt": "otter"})

    assert record["error"]["type"] == "provider"
    assert "not https" in record["error"]["message"]
    assert record["error"]["details"]["image_url"] == url
    assert record["attempts"] == 1
    assert len(wire_server.requests) == 1


def test_an_image_over_the_size_limit_fails_without_regenerating(
    run_job: Any, wire_server: Any, monkeypatch: Any
) -> None:
    from worker.operations import _image_download

    monkeypatch.setattr(_image_download, "MAX_IMAGE_BYTES", 32)

    def serve(request: Recorded) -> Reply:
        if request.path == "/big.png":
            return Reply(body=PNG * 4, headers={"Content-Type": "image/png"})
        return Reply(json=images_answer({"url": f"{wire_server.url}/big.png"}))

    wire_server.handler = serve
    harness = run_job(make_configuration("openai", wire_server.url), max_retries=3)

    record = harness.run("image_generations_single", {"configuration": "test", "prompt": "otter"})

    assert record["error"]["type"] == "provider"
    assert "larger than 32 bytes" in record["error"]["message"]
    assert record["attempts"] == 1


def test_an_expired_url_reports_the_download_status(run_job: Any, wire_server: Any) -> None:
    def serve(request: Recorded) -> Reply:
        if request.path == "/gone.png":
            return Reply(403, body=b"AuthenticationFailed")
        return Reply(json=images_answer({"url": f"{wire_server.url}/gone.png"}))

    wire_server.handler = serve
    harness = run_job(make_configuration("azure_api_key", wire_server.url))

    record = harness.run("image_generations_single", {"configuration": "test", "prompt": "otter"})

    assert record["error"]["type"] == "provider"
    assert "HTTP 403" in record["error"]["message"]


def test_the_single_operation_refuses_unknown_values(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "image_generations_single",
        {"configuration": "test", "prompt": "otter", "size": "huge", "style": "cartoon"},
    )

    assert record["error"]["type"] == "validation"
    assert "size" in record["error"]["message"]
    assert "style" in record["error"]["message"]
    assert wire_server.requests == []


def test_advanced_returns_the_whole_answer_and_passes_new_fields(
    run_job: Any, provider_config: Any, wire_server: Any
) -> None:
    answer = {
        "created": 1700000000,
        "data": [{"url": "https://example.com/1.png"}, {"url": "https://example.com/2.png"}],
    }
    wire_server.script(Reply(json=answer))
    harness = run_job(provider_config)

    record = harness.run(
        "image_generations_advanced",
        {
            "configuration": "test",
            "request": {"prompt": "otter", "model": "dall-e-2", "n": 2, "future_field": "x"},
        },
    )

    assert record["output"] == answer
    assert wire_server.last.json["n"] == 2
    assert wire_server.last.json["future_field"] == "x"
    assert len(wire_server.requests) == 1  # URLs are the caller's to fetch


def test_advanced_refuses_several_images_from_dall_e_3(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "image_generations_advanced",
        {"configuration": "test", "request": {"prompt": "otter", "model": "dall-e-3", "n": 2}},
    )

    assert record["error"]["type"] == "validation"
    assert "dall-e-3 supports only n=1" in record["error"]["message"]


def test_advanced_refuses_n_out_of_range(run_job: Any, wire_server: Any) -> None:
    harness = run_job(make_configuration("openai", wire_server.url))

    record = harness.run(
        "image_generations_advanced",
        {"configuration": "test", "request": {"prompt": "otter", "n": 11}},
    )

    assert record["error"]["type"] == "validation"
    assert wire_server.requests == []
