"""HANDMADE ANSWERS: realistic responses written by hand into mock-recorded cassettes.

The spec mocks answer with placeholders (``"content": "string"``) and cannot produce
every status a contract needs (OpenAI's spec defines no 401, 404 or 500 for chat). So
after a case is recorded against a mock, the recorder replaces the recorded answer
with the one named here: status, headers and body. The request side is never
touched: it is exactly what the worker sent and what the mock validated.

Every body here was written against the spec's schema for that status:
OpenAI ``CreateChatCompletionResponse`` and ``ErrorResponse`` (``error`` with ``code``,
``message``, ``param``, ``type``, all present); Azure ``createChatCompletionResponse``
and ``errorResponse`` (``error`` with string ``code``, ``message``, optional string
``param`` / ``type`` and ``inner_error`` with ``ResponsibleAIPolicyViolation``).
Answers recorded against the real services are never replaced. A replaced answer
carries the response header ``x-contract-handmade`` saying so.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import handmade_batch as batch
import handmade_rounds as rounds


@dataclass(frozen=True)
class Handmade:
    """A hand-written answer: status, JSON body and any headers beyond Content-Type."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    #: A file's content instead of the JSON body: JSON Lines (a batch's output file).
    lines: tuple[dict[str, Any], ...] | None = None

    @property
    def content(self) -> bytes:
        if self.lines is not None:
            return b"".join(json.dumps(line).encode() + b"\n" for line in self.lines)
        return json.dumps(self.body, indent=None).encode()

    @property
    def content_type(self) -> str:
        return "application/octet-stream" if self.lines is not None else "application/json"

    def apply(self, response: dict[str, Any], name: str) -> dict[str, Any]:
        """The vcrpy response dict with this answer in place of the recorded one."""
        kept = {
            key: value
            for key, value in (response.get("headers") or {}).items()
            if key.lower() not in {"content-type", "content-length", "retry-after"}
        }
        content = self.content
        headers = {
            **kept,
            "Content-Type": [self.content_type],
            "Content-Length": [str(len(content))],
            "x-contract-handmade": [name],
            **{key: [value] for key, value in self.headers.items()},
        }
        return {
            **response,
            "status": {"code": self.status, "message": _REASONS.get(self.status, "")},
            "headers": headers,
            "body": {"string": content},
        }


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
}

_USAGE = {"prompt_tokens": 24, "completion_tokens": 9, "total_tokens": 33}
_SAFE = {"filtered": False, "severity": "safe"}
_PROMPT_FILTER = [
    {
        "prompt_index": 0,
        "content_filter_results": {
            "hate": _SAFE,
            "self_harm": _SAFE,
            "sexual": _SAFE,
            "violence": _SAFE,
            "jailbreak": {"filtered": False, "detected": False},
        },
    }
]
_CHOICE_FILTER = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}


def _openai_chat(content: str, *, created: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-contract{created}",
        "object": "chat.completion",
        "created": created,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _USAGE,
    }


def _reasoning_chat(content: str, *, created: int) -> dict[str, Any]:
    """A reasoning model's answer: its usage counts the hidden reasoning tokens."""
    body = _openai_chat(content, created=created)
    body["model"] = "gpt-5-mini-2025-08-07"
    body["usage"] = {
        "prompt_tokens": 31,
        "completion_tokens": 204,
        "total_tokens": 235,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 192,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    return body


def _azure_chat(content: str, *, created: int) -> dict[str, Any]:
    body = _openai_chat(content, created=created)
    body["prompt_filter_results"] = _PROMPT_FILTER
    body["choices"][0]["content_filter_results"] = _CHOICE_FILTER
    return body


def _openai_error(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


_HELLO = "Hello! How can I help you today?"
_JSON = '{"greeting": "Hello! Nice to meet you."}'
_ADA = "Hello, Ada!"
_SUMMARY = (
    "On 20 July 1969 Apollo 11 landed Armstrong and Aldrin on the Moon while Collins "
    "orbited in the command module."
)
_VISION = "The image shows a set of colourful dice on a transparent background."
_CITY = '{"name":"Paris","country":"France","population":2102650}'
_BONJOUR = "Bonjour !"

#: Hand-written answers by name (``ContractCase.handmade``).
RESPONSES: dict[str, Handmade] = {
    # --- OpenAI -------------------------------------------------------------------------
    "openai_chat_hello": Handmade(200, _openai_chat(_HELLO, created=1732000001)),
    "openai_chat_hello_ada": Handmade(200, _openai_chat(_ADA, created=1732000004)),
    "openai_chat_summary": Handmade(200, _openai_chat(_SUMMARY, created=1732000005)),
    "openai_chat_json": Handmade(200, _openai_chat(_JSON, created=1732000002)),
    "openai_chat_vision": Handmade(200, _openai_chat(_VISION, created=1732000003)),
    "openai_chat_city": Handmade(200, _reasoning_chat(_CITY, created=1732000006)),
    "openai_chat_bonjour": Handmade(200, _reasoning_chat(_BONJOUR, created=1732000007)),
    "openai_error_401_invalid_key": Handmade(
        401,
        _openai_error(
            "Incorrect API key provided: contract****-key. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        ),
    ),
    "openai_error_404_model_not_found": Handmade(
        404,
        _openai_error(
            "The model `gpt-unknown` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        ),
    ),
    "openai_error_429_rate_limited": Handmade(
        429,
        _openai_error(
            "Rate limit reached for gpt-4o-mini in organization org-contract on requests per "
            "min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
            "requests",
            "rate_limit_exceeded",
        ),
        {"Retry-After": "20"},
    ),
    "openai_error_500_server_error": Handmade(
        500,
        _openai_error(
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ),
    ),
    # --- Azure OpenAI -------------------------------------------------------------------
    "azure_chat_hello": Handmade(200, _azure_chat(_HELLO, created=1732000011)),
    "azure_chat_hello_ada": Handmade(200, _azure_chat(_ADA, created=1732000014)),
    "azure_chat_summary": Handmade(200, _azure_chat(_SUMMARY, created=1732000015)),
    "azure_chat_json": Handmade(200, _azure_chat(_JSON, created=1732000012)),
    "azure_chat_vision": Handmade(200, _azure_chat(_VISION, created=1732000013)),
    "azure_chat_city": Handmade(200, _azure_chat(_CITY, created=1732000016)),
    "azure_chat_bonjour": Handmade(200, _azure_chat(_BONJOUR, created=1732000017)),
    "azure_error_401_invalid_key": Handmade(
        401,
        {
            "error": {
                "code": "401",
                "message": "Access denied due to invalid subscription key or wrong API endpoint. "
                "Make sure to provide a valid key for an active subscription and use a "
                "correct regional API endpoint for your resource.",
            }
        },
    ),
    "azure_error_404_deployment_not_found": Handmade(
        404,
        {
            "error": {
                "code": "DeploymentNotFound",
                "message": "The API deployment for this resource does not exist. If you created "
                "the deployment within the last 5 minutes, please wait a moment and try again.",
            }
        },
    ),
    "azure_error_429_rate_limited": Handmade(
        429,
        {
            "error": {
                "code": "429",
                "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI "
                "API version 2024-10-21 have exceeded token rate limit of your current OpenAI "
                "S0 pricing tier. Please retry after 6 seconds.",
            }
        },
        {"Retry-After": "6"},
    ),
    "azure_error_400_content_filter": Handmade(
        400,
        {
            "error": {
                "code": "content_filter",
                "message": "The response was filtered due to the prompt triggering Azure "
                "OpenAI's content management policy. Please modify your prompt and retry.",
                "param": "prompt",
                "inner_error": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_results": {
                        "hate": _SAFE,
                        "self_harm": _SAFE,
                        "sexual": _SAFE,
                        "violence": {"filtered": True, "severity": "high"},
                        "jailbreak": {"filtered": False, "detected": False},
                    },
                },
            }
        },
    ),
    "azure_error_500_server_error": Handmade(
        500,
        {
            "error": {
                "code": "InternalServerError",
                "message": "The server had an error processing your request. Sorry about that! "
                "You can retry your request.",
            }
        },
    ),
}


# --- embeddings, images, raw requests ---------------------------------------------------
#
# Schemas: OpenAI ``CreateEmbeddingResponse`` / ``Embedding``, ``ImagesResponse`` /
# ``Image``, ``ListModelsResponse`` / ``Model``; Azure's embeddings 200 answer (``object``,
# ``model``, ``data`` with ``index``/``object``/``embedding``, ``usage``) and
# ``generateImagesResponse`` / ``imageResult`` with ``dalleContentFilterResults``.
# One deviation, the API's own: with ``encoding_format: base64`` an ``embedding`` is a
# base64 string of little-endian float32 values (what the real services answer), while
# both specs only describe the float list.

#: An 8-dimension vector per text (the cases ask for ``dimensions: 8``), realistic values.
VECTORS = [
    [
        0.0023064255,
        -0.009327292,
        0.015797347,
        -0.0077780345,
        0.0046922187,
        0.0153612,
        -0.01231,
        0.0010281,
    ],
    [
        -0.011093843,
        0.0041327658,
        0.0025880183,
        -0.018405128,
        0.009921345,
        -0.0033150262,
        0.0071,
        0.0205,
    ],
    [0.0194232, 0.0011827, -0.0066453, 0.0038127, -0.0142915, 0.0087123, -0.0020387, 0.0031265],
]


def vector_base64(vector: list[float]) -> str:
    """The vector as the API sends it for ``encoding_format: base64``."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def _embeddings(
    count: int, *, encoding: str = "float", order: list[int] | None = None
) -> dict[str, Any]:
    def item(index: int) -> dict[str, Any]:
        vector = VECTORS[index]
        value: Any = vector if encoding == "float" else vector_base64(vector)
        return {"object": "embedding", "index": index, "embedding": value}

    return {
        "object": "list",
        "data": [item(index) for index in (order or list(range(count)))],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 6 * count, "total_tokens": 6 * count},
    }


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real, decodable PNG of one colour: signature, IHDR, IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


#: The generated image of every image case: a small, valid PNG (sky blue, 16×16).
IMAGE_PNG = _png(16, 16, (110, 170, 220))
#: Where the url answers say the image is: an https placeholder host, never contacted.
IMAGE_URL = "https://contract-images.blob.core.windows.net/private/images/img-contract.png"
_REVISED = "A watercolour lighthouse on a rocky shore at dawn, soft pastel sky."
_IMAGE_FILTER = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}


def _image(*, url: bool, azure: bool, created: int) -> dict[str, Any]:
    image: dict[str, Any] = (
        {"url": IMAGE_URL} if url else {"b64_json": base64.b64encode(IMAGE_PNG).decode("ascii")}
    )
    image["revised_prompt"] = _REVISED
    if azure:
        image["content_filter_results"] = _IMAGE_FILTER
        image["prompt_filter_results"] = {
            **_IMAGE_FILTER,
            "profanity": {"filtered": False, "detected": False},
            "jailbreak": {"filtered": False, "detected": False},
        }
    return {"created": created, "data": [image]}


_MODELS = {
    "object": "list",
    "data": [
        {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
        {
            "id": "text-embedding-3-small",
            "object": "model",
            "created": 1705948997,
            "owned_by": "system",
        },
    ],
}


@dataclass(frozen=True)
class Download:
    """A file the worker fetches from a URL an answer gave (not a provider call)."""

    url: str
    content: bytes
    content_type: str

    def interaction(self) -> dict[str, Any]:
        """The vcrpy interaction answering ``GET url`` with this file."""
        return {
            "request": {
                "method": "GET",
                "uri": self.url,
                "body": None,
                "headers": {"Accept": ["image/*"]},
            },
            "response": {
                "status": {"code": 200, "message": "OK"},
                "headers": {
                    "Content-Type": [self.content_type],
                    "Content-Length": [str(len(self.content))],
                    "x-contract-handmade": ["download"],
                },
                "body": {"string": self.content},
            },
        }


#: Files answered to the worker's own downloads, by ``ContractCase.handmade`` name.
DOWNLOADS: dict[str, Download] = {
    "openai_image_url": Download(IMAGE_URL, IMAGE_PNG, "image/png"),
    "azure_image_url": Download(IMAGE_URL, IMAGE_PNG, "image/png"),
}

for _prefix, _azure in (("openai", False), ("azure", True)):
    RESPONSES.update(
        {
            f"{_prefix}_embedding_float": Handmade(200, _embeddings(1)),
            f"{_prefix}_embedding_base64": Handmade(200, _embeddings(1, encoding="base64")),
            # The indexes come back out of order: the worker must place vectors by index.
            f"{_prefix}_embeddings_three": Handmade(200, _embeddings(3, order=[2, 0, 1])),
            f"{_prefix}_embeddings_three_base64": Handmade(
                200, _embeddings(3, encoding="base64", order=[1, 2, 0])
            ),
            f"{_prefix}_embeddings_two": Handmade(200, _embeddings(2)),
            f"{_prefix}_image_b64": Handmade(
                200, _image(url=False, azure=_azure, created=1732000021)
            ),
            f"{_prefix}_image_url": Handmade(
                200, _image(url=True, azure=_azure, created=1732000022)
            ),
        }
    )
RESPONSES.update(
    {
        "openai_models": Handmade(200, _MODELS, {"x-request-id": "req_contract_models"}),
        "openai_raw_embeddings": Handmade(
            200, _embeddings(1), {"x-request-id": "req_contract_embeddings"}
        ),
        "azure_raw_embeddings": Handmade(
            200, _embeddings(1), {"apim-request-id": "contract-embeddings"}
        ),
        "azure_raw_chat": Handmade(
            200, _azure_chat(_HELLO, created=1732000031), {"apim-request-id": "contract-chat"}
        ),
    }
)

# Tool-calling rounds and Responses API answers (``handmade_rounds``).
RESPONSES.update(
    {
        "openai_chat_weather_call": Handmade(
            200, rounds.chat_tool_call("call_contract_weather1", created=1732000041)
        ),
        "openai_chat_weather": Handmade(200, _reasoning_chat(rounds.SUNNY, created=1732000042)),
        "openai_response_hello": Handmade(
            200,
            rounds.response([rounds.message(rounds.HELLO, "msg_contract1")], created=1732000043),
        ),
        "openai_response_weather_call": Handmade(
            200,
            rounds.response(
                [rounds.function_call("call_contract_weather2", "fc_contract1")],
                created=1732000044,
            ),
        ),
        "openai_response_weather": Handmade(
            200,
            rounds.response([rounds.message(rounds.SUNNY, "msg_contract2")], created=1732000045),
        ),
    }
)

# The batch tier's Files and Batches answers (``handmade_batch``), one set per case of
# ``batch_cases``: a chat job's and an embeddings job's life, and the other calls.
_BATCH_CASES: dict[str, dict[str, batch.Answer]] = {
    "chat_job": batch.job_answers(
        batch.Ids(
            "file-Kq3WZr8cT1vYbN5aHdXe7P",
            "batch_6742f0c1d8e48190a3b5c7d9e1f20304",
            "file-9mTzR2hLwQ4xVcB7nJ1sKd",
            1732000101,
        ),
        endpoint="/v1/chat/completions",
        model="gpt-4o-mini-2024-07-18",
        custom_id="contract-job/round:0",
        body=_openai_chat(_HELLO, created=1732000150),
        size=291,
    ),
    "embeddings_job": batch.job_answers(
        batch.Ids(
            "file-3VhXo1pD8sQ5yRk2TbN7wM",
            "batch_6742f1a9b3c48190a8e2d4f6b1c30507",
            "file-Fz6Jc4Ln9Pq2Ws8Xe1Ry5U",
            1732000201,
        ),
        endpoint="/v1/embeddings",
        model="text-embedding-3-small",
        custom_id="contract-job/call",
        body=_embeddings(1),
        size=211,
    ),
    "search_and_cancel": batch.calls_answers(
        batch.Ids(
            "file-Ub8Nw2Qe5Zr1Ty7Ki4Lo3A",
            "batch_6742f2d07e5c8190b1f3a5c7e9d10b2c",
            "file-Hg5Vt9Mx2Bc6Ds1Fa8Jk4E",
            1732000301,
        ),
        endpoint="/v1/chat/completions",
        model="gpt-4o-mini-2024-07-18",
        custom_id="contract-job/round:0",
        size=291,
    ),
}
RESPONSES.update(
    {
        f"openai_batch_{case}_{step}": (
            Handmade(200, {}, lines=answer) if isinstance(answer, tuple) else Handmade(200, answer)
        )
        for case, answers in _BATCH_CASES.items()
        for step, answer in answers.items()
    }
)
