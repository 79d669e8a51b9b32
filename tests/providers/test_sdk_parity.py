"""Parity with the official ``openai`` client: for the same call, the worker and the SDK
send the same route, auth, organization, content type and JSON body.

Each case runs the worker's job against the wire server, then makes the same call with
the SDK pointed at the same server, and compares the two recorded requests. The SDK
also sends headers of its own (``User-Agent``, ``X-Stainless-*``, retry counters,
``Accept-Encoding``…) that say nothing about the call: only ``MEANINGFUL_HEADERS`` are
compared. Two differences are known and asserted exactly, each in its own test:

- Azure with a dated API version: the SDK repeats the deployment as the body's
  ``model``; the worker leaves it out, since the path names the deployment already.
- Azure's v1 API with a key: the SDK, used as Microsoft documents it (the plain
  ``OpenAI`` client, the key as ``api_key``), sends ``Authorization: Bearer <key>``; the
  worker sends ``api-key: <key>``. The v1 spec accepts both (its ``securitySchemes``:
  ``ApiKeyAuth`` is the ``api-key`` header, ``ApiKeyAuth_`` the ``authorization`` one).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import openai
import pytest
from support import CITY_FORMAT, Recorded, Reply, chat_completion, make_configuration

from worker.configurations import Configuration

MEANINGFUL_HEADERS = (
    "authorization",
    "api-key",
    "openai-organization",
    "openai-project",
    "content-type",
    "accept",
)
DEPLOYMENT = "my-deployment"  # what support.make_configuration names it

ANSWERS: dict[str, Any] = {
    # JSON, so the job asking for a json_schema gets an answer it can parse
    "chat": chat_completion('{"name": "Paris", "population": 2102650}'),
    "embeddings": {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
    },
    "images": {
        "created": 1700000000,
        "data": [{"b64_json": base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()}],
    },
}

LOOKUP_PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
SYSTEM_AND_USER = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hello"},
]
PICTURE = "https://example.com/otter.png"


@dataclass(frozen=True)
class Call:
    """One call: the worker's ``operation`` with ``payload``; the SDK's ``kind`` with ``sdk``."""

    variant: str
    operation: str
    payload: dict[str, Any]
    kind: str  # chat, embeddings or images
    sdk: dict[str, Any]


def case(
    name: str, variant: str, operation: str, payload: dict[str, Any], kind: str, **sdk: Any
) -> Any:
    return pytest.param(Call(variant, operation, payload, kind, sdk), id=name)


def chat_case(variant: str) -> Any:
    return case(
        f"{variant}-chat",
        variant,
        "chat_completions_without_history",
        {"system_prompt": "Be brief.", "user_prompt": "Hello", "max_tokens": 64},
        "chat",
        model=DEPLOYMENT,
        messages=SYSTEM_AND_USER,
        max_completion_tokens=64,
    )


def embeddings_case(variant: str) -> Any:
    return case(
        f"{variant}-embeddings",
        variant,
        "embeddings_single_input",
        {"input": "hello", "dimensions": 256},
        "embeddings",
        model=DEPLOYMENT,
        input="hello",
        dimensions=256,
        encoding_format="float",  # the SDK asks for base64 unless told
    )


SAME_REQUESTS = [
    case(
        "openai-chat",
        "openai",
        "chat_completions_without_history",
        {
            "model": "gpt-4o-mini",
            "system_prompt": "Be brief.",
            "user_prompt": "Hello",
            "temperature": 0.2,
            "max_tokens": 64,
        },
        "chat",
        model="gpt-4o-mini",
        messages=SYSTEM_AND_USER,
        temperature=0.2,
        max_completion_tokens=64,
    ),
    case(
        "openai-todays-dialect",
        "openai",
        "chat_completions_with_history",
        {
            "model": "gpt-5-mini",
            "messages": [
                {"role": "developer", "content": "Answer in French."},
                {"role": "user", "content": "Paris?"},
            ],
            "reasoning_effort": "low",
            "verbosity": "low",
            "response_format": CITY_FORMAT,
        },
        "chat",
        model="gpt-5-mini",
        messages=[
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "Paris?"},
        ],
        reasoning_effort="low",
        verbosity="low",
        response_format=CITY_FORMAT,
    ),
    case(
        "openai-vision",
        "openai",
        "chat_completions_without_history",
        {
            "model": "gpt-4o-mini",
            "user_prompt": "What is this?",
            "images": [{"url": PICTURE, "detail": "high"}],
        },
        "chat",
        model="gpt-4o-mini",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": PICTURE, "detail": "high"}},
                ],
            }
        ],
    ),
    case(
        "openai-strict-function",
        "openai",
        "chat_completions_without_history",
        {
            "model": "gpt-4o-mini",
            "user_prompt": "Weather in Paris?",
            "functions": [{"name": "lookup"}],
        },
        "chat",
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "The weather in a city.",
                    "parameters": LOOKUP_PARAMETERS,
                    "strict": True,
                },
            }
        ],
    ),
    case(
        "openai-advanced",
        "openai",
        "chat_completions_advanced",
        {
            "request": {
                "model": "gpt-4o-mini",
                "messages": SYSTEM_AND_USER,
                "seed": 7,
                "stop": ["\n\n", "END"],
                "top_p": 0.5,
                "user": "user-1",
                "max_completion_tokens": 32,
            }
        },
        "chat",
        model="gpt-4o-mini",
        messages=SYSTEM_AND_USER,
        seed=7,
        stop=["\n\n", "END"],
        top_p=0.5,
        user="user-1",
        max_completion_tokens=32,
    ),
    case(
        "openai-embeddings",
        "openai",
        "embeddings_single_input",
        {
            "model": "text-embedding-3-small",
            "input": "hello",
            "dimensions": 256,
            "encoding_format": "float",
        },
        "embeddings",
        model="text-embedding-3-small",
        input="hello",
        dimensions=256,
        encoding_format="float",
    ),
    case(
        "openai-images",
        "openai",
        "image_generations_single",
        {
            "model": "dall-e-3",
            "prompt": "An otter",
            "size": "1024x1024",
            "response_format": "b64_json",
        },
        "images",
        model="dall-e-3",
        prompt="An otter",
        size="1024x1024",
        response_format="b64_json",
    ),
    case(
        "openai-compatible-chat",
        "openai_compatible",
        "chat_completions_without_history",
        {"model": "qwen2.5-0.5b", "user_prompt": "Hello", "max_tokens": 64},
        "chat",
        model="qwen2.5-0.5b",
        messages=[{"role": "user", "content": "Hello"}],
        max_tokens=64,
    ),
    # Entra on the v1 API: Microsoft's documented form authenticates as the worker does.
    chat_case("azure_v1_bearer"),
    embeddings_case("azure_v1_bearer"),
]
AZURE_DATED = [chat_case(v) for v in ("azure_api_key", "azure_bearer")] + [
    embeddings_case(v) for v in ("azure_api_key", "azure_bearer")
]
AZURE_V1_WITH_A_KEY = [chat_case("azure_v1"), embeddings_case("azure_v1")]


@pytest.fixture(autouse=True)
def _no_sdk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK reads these; a developer's shell must not add headers to one side only."""
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_ADMIN_KEY",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "OPENAI_BASE_URL",
        "OPENAI_CUSTOM_HEADERS",
        "OPENAI_API_VERSION",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_AD_TOKEN",
        "AZURE_OPENAI_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)


def official_client(configuration: Configuration, server_url: str) -> openai.OpenAI:
    """The SDK configured as its own and Microsoft's documentation show for this variant."""
    key = configuration.api_key
    if configuration.api_type != "azure_openai":
        return openai.OpenAI(
            base_url=configuration.endpoint,
            api_key=key,
            organization=configuration.organization,
            max_retries=0,
        )
    bearer = configuration.key_type == "bearer_token"
    if configuration.api_version == "v1":
        # Microsoft's v1 examples: the plain client, a key or an Entra token provider.
        return openai.OpenAI(
            base_url=f"{server_url}/openai/v1/",
            api_key=(lambda: key) if bearer else key,
            max_retries=0,
        )
    return openai.AzureOpenAI(
        azure_endpoint=server_url,
        azure_deployment=configuration.deployment_name,
        api_version=configuration.api_version,
        api_key=None if bearer else key,
        azure_ad_token=key if bearer else None,
        max_retries=0,
    )


def call_sdk(client: openai.OpenAI, kind: str, arguments: dict[str, Any]) -> None:
    if kind == "chat":
        client.chat.completions.create(**arguments)
    elif kind == "embeddings":
        client.embeddings.create(**arguments)
    else:
        client.images.generate(**arguments)


def both_requests(run_job: Any, wire_server: Any, call: Call) -> tuple[Recorded, Recorded]:
    """The worker's request for the job, then the SDK's for the same call."""
    answer = Reply(json=ANSWERS[call.kind])
    wire_server.script(answer, answer)
    configuration = make_configuration(call.variant, wire_server.url)
    harness = run_job(configuration)
    # offered to the model only where a payload names it in ``functions``
    harness.functions.register(
        lambda city: "sunny",
        name="lookup",
        description="The weather in a city.",
        parameters=LOOKUP_PARAMETERS,
        strict=True,
    )

    record = harness.run(call.operation, {"configuration": "test", **call.payload})
    call_sdk(official_client(configuration, wire_server.url), call.kind, call.sdk)

    assert record["status"] == "succeeded", record["error"]
    ours, theirs = wire_server.requests  # one each: no retry, no tool round
    return ours, theirs


def seen(request: Recorded) -> dict[str, Any]:
    """What a provider acts on: route, meaningful headers, the parsed JSON body."""
    return {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": {k: v for k, v in request.headers.items() if k in MEANINGFUL_HEADERS},
        "body": request.json,
    }


@pytest.mark.parametrize("call", SAME_REQUESTS)
def test_the_worker_sends_what_the_sdk_sends(run_job: Any, wire_server: Any, call: Call) -> None:
    ours, theirs = both_requests(run_job, wire_server, call)

    assert seen(ours) == seen(theirs)


@pytest.mark.parametrize("call", AZURE_DATED)
def test_on_dated_azure_only_the_sdk_repeats_the_deployment_as_model(
    run_job: Any, wire_server: Any, call: Call
) -> None:
    ours, theirs = both_requests(run_job, wire_server, call)

    ours_seen, theirs_seen = seen(ours), seen(theirs)
    assert theirs_seen.pop("body") == {**ours_seen.pop("body"), "model": DEPLOYMENT}
    assert "model" not in ours.json
    assert ours_seen == theirs_seen
    assert ours.path.startswith(f"/openai/deployments/{DEPLOYMENT}/")
    assert ours.query == {"api-version": "2024-10-21"}


@pytest.mark.parametrize("call", AZURE_V1_WITH_A_KEY)
def test_on_azure_v1_with_a_key_only_the_auth_header_differs(
    run_job: Any, wire_server: Any, call: Call
) -> None:
    ours, theirs = both_requests(run_job, wire_server, call)

    ours_seen, theirs_seen = seen(ours), seen(theirs)
    key = make_configuration("azure_v1", wire_server.url).api_key
    assert ours_seen["headers"].pop("api-key") == key
    assert theirs_seen["headers"].pop("authorization") == f"Bearer {key}"
    assert ours_seen == theirs_seen
    assert ours.path.startswith("/openai/v1/")
    assert (ours.query, ours.json["model"]) == ({}, DEPLOYMENT)
