"""The table of contract cases, read by the recorder and by the replay tests alike.

One case is one cassette: ``cassettes/<provider>/<operation>/<name>.yaml``. Adding an
operation's contract is adding rows here (and, when the mocks' placeholder answers
will not do, a realistic answer in ``handmade.py``), then ``make record-cassettes``.

Expected outputs are computed from the recorded answers, not written out, so a
re-recording against the real services (whose words differ run to run) still checks
that the worker read the answer correctly.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"


@dataclass(frozen=True)
class Answer:
    """One recorded answer, in the order received: status, headers and body."""

    status: int
    #: Header names as recorded, several values joined with ", ".
    headers: dict[str, str]
    content: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def is_json(self) -> bool:
        content_type = next(
            (value for name, value in self.headers.items() if name.lower() == "content-type"), ""
        )
        return content_type.split(";")[0].strip() == "application/json"


#: The expected ``output`` of a success, computed from the recorded answers.
OutputFrom = Callable[[list[Answer]], dict[str, Any]]


@dataclass(frozen=True)
class ExpectedRequest:
    """What the worker must send, beyond what the provider variant decides.

    ``path`` is relative to the configuration's base (``/v1/`` for OpenAI,
    ``/openai/deployments/<deployment>/`` for Azure, ``/openai/v1/`` for Azure's v1
    API); ``body`` lists fields that must be
    sent with exactly these values; ``absent`` lists fields that must not be sent.
    """

    path: str
    body: dict[str, Any] = field(default_factory=dict)
    absent: tuple[str, ...] = ()
    method: str = "POST"


@dataclass(frozen=True)
class Expected:
    """How the job must end: its status, and its output or the subset of its error."""

    status: str = "succeeded"
    output: OutputFrom | None = None
    error: dict[str, Any] | None = None
    #: For a 429: the delay the runner must ask for (the provider's Retry-After).
    retry_after_s: float | None = None
    #: Whether the job reports the answers' ``usage`` (summed); else it reports none.
    usage: bool = True


def provider_of(variant: str) -> str:
    """A variant's cassette folder: ``openai``, ``azure`` (dated versions) or ``azure_v1``."""
    if variant.startswith("azure_v1"):
        return "azure_v1"
    return "openai" if variant == "openai" else "azure"


@dataclass(frozen=True)
class ContractCase:
    """One recorded conversation between the worker and a provider."""

    name: str
    variant: str  # openai | azure_api_key | azure_bearer | azure_v1 | azure_v1_bearer
    operation: str
    payload: dict[str, Any]
    request: ExpectedRequest
    expected: Expected
    #: Mock recording: ask the mock for this status (``Prefer: code=N``).
    mock_status: int | None = None
    #: Mock recording: a key of ``handmade.RESPONSES`` replacing the mock's answer
    #: (and of ``handmade.DOWNLOADS``, a file the worker then downloads, if there).
    handmade: str | None = None
    #: Mock recording of a conversation of several requests (tool-calling rounds): the
    #: ``handmade.RESPONSES`` answering each request in turn. The worker sees them while
    #: recording, so each next request is the one a real answer leads to.
    rounds: tuple[str, ...] = ()
    #: Whether a recording against the real service can produce this case.
    live: bool = True
    #: Retries the runner may plan (1 for a 429, to see the Retry-After delay).
    max_retries: int = 0

    @property
    def provider(self) -> str:
        return provider_of(self.variant)

    @property
    def cassette(self) -> Path:
        return CASSETTES / self.provider / self.operation / f"{self.name}.yaml"

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.operation}/{self.name}"


# --- expected outputs, read independently of the operation code -------------------------


def chat_text(answers: list[Any]) -> dict[str, Any]:
    """The simple chat operations' output: the last answer's first choice."""
    choice = answers[-1].json["choices"][0]
    return {
        "assistant_response_text": choice["message"]["content"],
        "finish_reason": choice["finish_reason"],
    }


def parsed_json(answers: list[Any]) -> dict[str, Any]:
    """A JSON response_format's output: the chat output and the text parsed."""
    output = chat_text(answers)
    return {**output, "assistant_response_json": json.loads(output["assistant_response_text"])}


def summed(usages: list[dict[str, Any]]) -> dict[str, Any]:
    """Token counts added up over answers, nested details (reasoning tokens…) included."""
    keys = dict.fromkeys(key for usage in usages for key in usage)
    return {
        key: summed([u[key] for u in usages if key in u])
        if isinstance(next(u[key] for u in usages if key in u), dict)
        else sum(u[key] for u in usages if key in u)
        for key in keys
    }


def response_and_text(answers: list[Any]) -> dict[str, Any]:
    """The responses operation's output: the last response, usage summed over rounds,
    and its text joined."""
    response = dict(answers[-1].json)
    response["usage"] = summed([answer.json["usage"] for answer in answers])
    parts = [
        part["text"]
        for item in response["output"]
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    ]
    return {**response, "output_text": "".join(parts)}


def full_response(answers: list[Any]) -> dict[str, Any]:
    """The advanced operations' output: the answer exactly as the API returned it."""
    return dict(answers[-1].json)


def summary(answers: list[Any]) -> dict[str, Any]:
    """summarize_text's output: the chat output with the text named ``summary``."""
    output = chat_text(answers)
    return {"summary": output.pop("assistant_response_text"), **output}


def each_prompt(answers: list[Any]) -> dict[str, Any]:
    """chat_completions_multiple's output: one entry per prompt, all answered."""
    return {
        "responses": [
            {"index": i, "success": True, **chat_text([answer]), "error": None}
            for i, answer in enumerate(answers)
        ]
    }


def _float32_values(embedding: Any) -> list[float]:
    """An answer's vector as the float32 values it carries, list or base64 alike."""
    if isinstance(embedding, str):
        raw = base64.b64decode(embedding)
        values = struct.unpack(f"<{len(raw) // 4}f", raw)
    else:
        values = struct.unpack(
            f"<{len(embedding)}f", struct.pack(f"<{len(embedding)}f", *embedding)
        )
    # The worker's documented output: each float32 value with 9 significant digits.
    return [float(f"{value:.9g}") for value in values]


def one_vector(answers: list[Answer]) -> dict[str, Any]:
    """embeddings_single_input's output: the one vector, as floats whatever the encoding."""
    [item] = answers[-1].json["data"]
    return {"embedding_vector": _float32_values(item["embedding"])}


def chunk_vectors(keys: list[Any]) -> OutputFrom:
    """embeddings_list_input's output: a vector per chunk, placed by the answer's index."""

    def output(answers: list[Answer]) -> dict[str, Any]:
        by_index = {item["index"]: item["embedding"] for item in answers[-1].json["data"]}
        return {
            "chunks": [
                {"index": i, "key": key, "embedding_vector": _float32_values(by_index[i])}
                for i, key in enumerate(keys)
            ]
        }

    return output


def _media_type(content: bytes) -> str:
    return "image/png" if content.startswith(b"\x89PNG\r\n\x1a\n") else "unknown"


def image_bytes(answers: list[Answer]) -> dict[str, Any]:
    """image_generations_single's output: the image's base64 bytes, media type, prompt.

    A ``b64_json`` answer is the whole story; a ``url`` answer is followed by the
    download of that URL, whose bytes the output carries.
    """
    image = answers[0].json["data"][0]
    encoded = image.get("b64_json") or base64.b64encode(answers[-1].content).decode("ascii")
    return {
        "image_base64": encoded,
        "media_type": _media_type(base64.b64decode(encoded)),
        "revised_prompt": image.get("revised_prompt"),
    }


def raw_answer(answers: list[Answer]) -> dict[str, Any]:
    """raw_request's output: the answer's status, every header and its JSON body."""
    answer = answers[-1]
    return {"status_code": answer.status, "headers": answer.headers, "body": answer.json}


# --- the cases --------------------------------------------------------------------------

CHAT = "chat_completions_without_history"
MODEL = "gpt-4o-mini"

_BASIC_CHAT = {
    "model": MODEL,
    "system_prompt": "You are a concise assistant.",
    "user_prompt": "Say hello in one short sentence.",
    "temperature": 0.2,
    "max_tokens": 50,
}
_BASIC_CHAT_BODY = {
    "messages": [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": "Say hello in one short sentence."},
    ],
    "temperature": 0.2,
    "max_completion_tokens": 50,
}
_JSON_CHAT = {
    "model": MODEL,
    "system_prompt": "Answer with a JSON object.",
    "user_prompt": 'Greet me as {"greeting": "..."}.',
    "response_format": "json_object",
}
_VISION_CHAT = {
    "model": MODEL,
    "user_prompt": "What is in this image? One sentence.",
    "images": [
        {
            "url": "https://upload.wikimedia.org/wikipedia/commons/4/47/PNG_transparency_demonstration_1.png",
            "detail": "low",
        }
    ],
    "max_tokens": 60,
}
_CITY_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "city",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "country": {"type": "string"},
                "population": {"type": "integer"},
            },
            "required": ["name", "country", "population"],
            "additionalProperties": False,
        },
    },
}
_CITY_CHAT = {
    "model": "gpt-5-mini",
    "user_prompt": "Which city is the capital of France? Give its population too.",
    "response_format": _CITY_FORMAT,
    "max_tokens": 2000,
}
#: A reasoning model asked in today's dialect: developer role, effort and verbosity.
_REASONING = {
    "model": "gpt-5-mini",
    "messages": [
        {"role": "developer", "content": "Answer in French, in two words at most."},
        {"role": "user", "content": "Say hello."},
    ],
    "reasoning_effort": "low",
    "verbosity": "low",
    "max_tokens": 1000,
}
_VISION_MESSAGES = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this image? One sentence."},
            {"type": "image_url", "image_url": _VISION_CHAT["images"][0]},
        ],
    }
]
_SMALL = {"model": MODEL, "user_prompt": "Say hello."}
_SMALL_BODY = {"messages": [{"role": "user", "content": "Say hello."}]}


_HISTORY = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "My name is Ada."},
    {"role": "assistant", "content": "Nice to meet you, Ada."},
    {"role": "user", "content": "Say hello to me by name."},
]
_ADVANCED = {
    "messages": [{"role": "user", "content": "Say hello."}],
    "temperature": 0.2,
    "top_p": 0.9,
    "max_tokens": 30,
    "seed": 42,
    "stop": ["\n\n"],
    "user": "contract-suite",
}
_TEXT = (
    "The Apollo 11 mission landed the first humans on the Moon on 20 July 1969. Neil "
    "Armstrong and Buzz Aldrin spent about two and a quarter hours outside the lunar "
    "module, while Michael Collins stayed in orbit aboard the command module."
)


def _success_cases(variant: str, prefix: str) -> list[ContractCase]:
    openai = variant == "openai"
    model = {"model": MODEL} if openai else {}
    absent = () if openai else ("model",)
    return [
        ContractCase(
            "basic",
            variant,
            "chat_completions_with_history",
            {"model": MODEL, "messages": _HISTORY, "max_tokens": 40},
            ExpectedRequest(
                "chat/completions",
                {**model, "messages": _HISTORY, "max_completion_tokens": 40},
                absent,
            ),
            Expected(output=chat_text),
            handmade=f"{prefix}_chat_hello_ada",
        ),
        _reasoning_case(variant, prefix),
        # Azure 2024-10-21's spec requires a "type" inside json_schema (an error of that
        # spec: no such field exists, and no client sends one), so its mock refuses every
        # structured-output request; the Azure v1 cases cover the format instead.
        *([_json_schema_case(variant, prefix)] if openai else []),
        ContractCase(
            "basic",
            variant,
            "chat_completions_advanced",
            {"request": {**model, **_ADVANCED}},
            ExpectedRequest("chat/completions", {**model, **_ADVANCED}, absent),
            Expected(output=full_response),
            handmade=f"{prefix}_chat_hello",
        ),
        ContractCase(
            "basic",
            variant,
            "summarize_text",
            {"model": MODEL, "text": _TEXT, "max_tokens": 60},
            ExpectedRequest("chat/completions", {**model, "max_completion_tokens": 60}, absent),
            Expected(output=summary),
            handmade=f"{prefix}_chat_summary",
        ),
        ContractCase(
            "basic",
            variant,
            "chat_completions_multiple",
            {"model": MODEL, "prompts": ["Greet me.", "Greet me warmly."]},
            ExpectedRequest("chat/completions", model, absent),
            Expected(output=each_prompt),
            handmade=f"{prefix}_chat_hello",
        ),
        ContractCase(
            "basic",
            variant,
            CHAT,
            _BASIC_CHAT,
            ExpectedRequest("chat/completions", {**model, **_BASIC_CHAT_BODY}, absent),
            Expected(output=chat_text),
            handmade=f"{prefix}_chat_hello",
        ),
        ContractCase(
            "json_mode",
            variant,
            CHAT,
            _JSON_CHAT,
            ExpectedRequest(
                "chat/completions", {**model, "response_format": {"type": "json_object"}}, absent
            ),
            Expected(output=parsed_json),
            handmade=f"{prefix}_chat_json",
        ),
        ContractCase(
            "vision",
            variant,
            CHAT,
            _VISION_CHAT,
            ExpectedRequest(
                "chat/completions",
                {**model, "messages": _VISION_MESSAGES, "max_completion_tokens": 60},
                absent,
            ),
            Expected(output=chat_text),
            handmade=f"{prefix}_chat_vision",
        ),
        ContractCase(
            "basic",
            variant if openai else "azure_bearer",
            "configuration_test",
            {"model": MODEL, "user_prompt": "Say hello."},
            ExpectedRequest("chat/completions", {**model, **_SMALL_BODY}, absent),
            Expected(output=chat_text),
            handmade=f"{prefix}_chat_hello",
        ),
    ]


def _json_schema_case(variant: str, prefix: str) -> ContractCase:
    """Structured outputs: a strict JSON Schema; the answer is parsed into the output."""
    openai = variant == "openai"
    absent = () if openai else ("model",)
    return ContractCase(
        "json_schema",
        variant,
        CHAT,
        _CITY_CHAT,
        ExpectedRequest(
            "chat/completions",
            {
                **({"model": "gpt-5-mini"} if openai else {}),
                "response_format": _CITY_FORMAT,
                "max_completion_tokens": 2000,
            },
            ("temperature", "top_p", "max_tokens", *absent),
        ),
        Expected(output=parsed_json),
        handmade=f"{prefix}_chat_city",
    )


def _reasoning_case(variant: str, prefix: str) -> ContractCase:
    """A developer message and the reasoning options (Azure 2024-10-21 takes neither:
    the developer message goes as ``system``, and only the budget is asked)."""
    openai = variant == "openai"
    payload = _REASONING if openai else {**_REASONING, "reasoning_effort": None}
    payload = {key: value for key, value in payload.items() if value is not None}
    if not openai:
        payload.pop("verbosity")
    role = "developer" if openai else "system"
    messages = [{**_REASONING["messages"][0], "role": role}, _REASONING["messages"][1]]
    body = {"messages": messages, "max_completion_tokens": 1000}
    if openai:
        body.update(model="gpt-5-mini", reasoning_effort="low", verbosity="low")
    return ContractCase(
        "reasoning",
        variant,
        "chat_completions_with_history",
        payload,
        ExpectedRequest(
            "chat/completions",
            body,
            ("temperature", "top_p", "max_tokens", *(() if openai else ("model",))),
        ),
        Expected(output=chat_text),
        handmade=f"{prefix}_chat_bonjour",
    )


_WEATHER_PROMPT = "What is the weather in Paris?"
#: Azure's v1 API names the deployment as the body's ``model`` (the harness's placeholder).
_V1_MODEL = {"model": "contract-deployment"}


def _azure_v1_cases() -> list[ContractCase]:
    """Azure's v1 API, recorded against a mock of its own spec (``prism_azure_v1.sh``)."""
    weather = [{"name": "get_weather", "strict": True}]
    reasoning = {**_REASONING, "reasoning_effort": "low"}  # the v1 spec lists low/medium/high
    body = {
        **_V1_MODEL,
        "messages": _REASONING["messages"],
        "reasoning_effort": "low",
        "verbosity": "low",
        "max_completion_tokens": 1000,
    }
    embedding = {"input": _TEXTS[0], "dimensions": 8, "encoding_format": "float"}
    responses = {"input": "Say hello.", "max_output_tokens": 500}
    return [
        ContractCase(
            "reasoning",
            "azure_v1",
            "chat_completions_with_history",
            reasoning,
            ExpectedRequest("chat/completions", body, ("temperature", "top_p", "max_tokens")),
            Expected(output=chat_text),
            handmade="azure_chat_bonjour",
        ),
        ContractCase(
            "json_schema",
            "azure_v1",
            CHAT,
            _CITY_CHAT,
            ExpectedRequest(
                "chat/completions",
                {**_V1_MODEL, "response_format": _CITY_FORMAT, "max_completion_tokens": 2000},
            ),
            Expected(output=parsed_json),
            handmade="azure_chat_city",
        ),
        ContractCase(
            "functions",
            "azure_v1_bearer",
            CHAT,
            {"user_prompt": _WEATHER_PROMPT, "functions": weather},
            ExpectedRequest("chat/completions", _V1_MODEL),
            Expected(output=chat_text),
            rounds=("openai_chat_weather_call", "openai_chat_weather"),
        ),
        ContractCase(
            "float",
            "azure_v1",
            "embeddings_single_input",
            embedding,
            ExpectedRequest("embeddings", {**_V1_MODEL, **embedding}),
            Expected(output=one_vector),
            handmade="azure_embedding_float",
            live=False,  # the re-recording deployment is a chat model
        ),
        ContractCase(
            "basic",
            "azure_v1",
            "responses",
            {"request": responses},
            ExpectedRequest("responses", {**_V1_MODEL, **responses, "store": False}),
            Expected(output=response_and_text),
            rounds=("openai_response_hello",),
        ),
        ContractCase(
            "functions",
            "azure_v1_bearer",
            "responses",
            {"request": {"input": _WEATHER_PROMPT}, "functions": weather},
            ExpectedRequest("responses", {**_V1_MODEL, "store": False}, ("include",)),
            Expected(output=response_and_text),
            rounds=("openai_response_weather_call", "openai_response_weather"),
        ),
        ContractCase(
            "get_models",
            "azure_v1",
            "raw_request",
            {"method": "GET", "path": "models"},
            ExpectedRequest("models", method="GET"),
            Expected(output=raw_answer, usage=False),
            handmade="openai_models",
        ),
    ]


def _today_cases() -> list[ContractCase]:
    """Worker-run functions over two rounds, and the Responses API (OpenAI)."""
    weather = [{"name": "get_weather", "strict": True}]
    responses = {"model": "gpt-5-mini", "input": "Say hello.", "max_output_tokens": 500}
    reasoned = {
        "model": "gpt-5-mini",
        "input": _WEATHER_PROMPT,
        "reasoning": {"effort": "low"},
        "text": {"verbosity": "low"},
    }
    return [
        ContractCase(
            "functions",
            "openai",
            CHAT,
            {"model": "gpt-5-mini", "user_prompt": _WEATHER_PROMPT, "functions": weather},
            ExpectedRequest(
                "chat/completions",
                {"messages": [{"role": "user", "content": _WEATHER_PROMPT}]},
            ),
            Expected(output=chat_text),
            rounds=("openai_chat_weather_call", "openai_chat_weather"),
        ),
        ContractCase(
            "basic",
            "openai",
            "responses",
            {"request": responses},
            ExpectedRequest("responses", {**responses, "store": False}),
            Expected(output=response_and_text),
            rounds=("openai_response_hello",),
        ),
        ContractCase(
            "functions",
            "openai",
            "responses",
            {"request": reasoned, "functions": weather},
            ExpectedRequest(
                "responses",
                {**reasoned, "store": False, "include": ["reasoning.encrypted_content"]},
            ),
            Expected(output=response_and_text),
            rounds=("openai_response_weather_call", "openai_response_weather"),
        ),
    ]


def _error_case(
    variant: str,
    name: str,
    status: int,
    *,
    payload: dict[str, Any] | None = None,
    mock_status: int | None = None,
    retry_after_s: float | None = None,
    code: str | None = None,
) -> ContractCase:
    openai = variant == "openai"
    payload = payload or _SMALL
    body = {"model": payload["model"]} if openai else {}
    return ContractCase(
        name,
        variant,
        CHAT,
        payload,
        ExpectedRequest("chat/completions", {**body, **_SMALL_BODY}, () if openai else ("model",)),
        Expected(
            status="retrying" if retry_after_s is not None else "failed",
            error={"type": "provider", "status_code": status}
            | ({"details": {"code": code}} if code else {}),
            retry_after_s=retry_after_s,
        ),
        mock_status=mock_status,
        handmade=f"{'openai' if openai else 'azure'}_{name}",
        live=False,
        max_retries=1 if retry_after_s is not None else 0,
    )


_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "A journey of a thousand miles begins with a single step.",
    "To be, or not to be, that is the question.",
]
#: Keys of any JSON kind, returned with their chunk's vector.
_KEYS: list[Any] = ["doc-1#p1", 42, {"doc": "doc-2", "page": 3}]
_PROMPT = "A watercolour lighthouse on a rocky shore at dawn."
#: Shared with the batch tier's cases (``batch_cases``): the same job, sent as a batch.
BASIC_CHAT, TEXTS = _BASIC_CHAT, _TEXTS


def _embeddings_cases(variant: str, prefix: str) -> list[ContractCase]:
    openai = variant == "openai"
    model = {"model": "text-embedding-3-small"} if openai else {}
    absent = () if openai else ("model",)
    chunks = [{"input": text, "key": key} for text, key in zip(_TEXTS, _KEYS, strict=True)]
    advanced = {**model, "input": _TEXTS[:2], "dimensions": 8, "user": "contract-suite"}
    single = {**model, "input": _TEXTS[0], "dimensions": 8}
    return (
        [
            ContractCase(
                encoding,
                variant,
                "embeddings_single_input",
                {**single, "encoding_format": encoding},
                ExpectedRequest("embeddings", {**single, "encoding_format": encoding}, absent),
                Expected(output=one_vector),
                handmade=f"{prefix}_embedding_{encoding}",
                live=openai,
            )
            for encoding in ("float", "base64")
        ]
        + [
            ContractCase(
                "three_chunks" + suffix,
                variant,
                "embeddings_list_input",
                {**model, "chunks": chunks, "dimensions": 8, "encoding_format": encoding},
                ExpectedRequest(
                    "embeddings",
                    {**model, "input": _TEXTS, "dimensions": 8, "encoding_format": encoding},
                    absent,
                ),
                Expected(output=chunk_vectors(_KEYS)),
                handmade=f"{prefix}_embeddings_three{suffix}",
                live=openai,
            )
            for encoding, suffix in (("float", ""), ("base64", "_base64"))
        ]
        + [
            ContractCase(
                "basic",
                variant,
                "embeddings_advanced",
                {"request": advanced},
                ExpectedRequest("embeddings", advanced, absent),
                Expected(output=full_response),
                handmade=f"{prefix}_embeddings_two",
                live=openai,
            ),
        ]
    )


def _images_cases(variant: str, prefix: str) -> list[ContractCase]:
    openai = variant == "openai"
    # OpenAI: dall-e-2 at its smallest size; Azure: the deployment decides the model.
    model = {"model": "dall-e-2", "size": "256x256"} if openai else {"size": "1024x1024"}
    single = {"prompt": _PROMPT, **model}
    advanced = {**single, "n": 1, "response_format": "b64_json", "user": "contract-suite"}
    return [
        ContractCase(
            "b64_json",
            variant,
            "image_generations_single",
            {**single, "response_format": "b64_json"},
            ExpectedRequest("images/generations", {**single, "response_format": "b64_json"}),
            Expected(output=image_bytes, usage=False),
            handmade=f"{prefix}_image_b64",
            live=openai,
        ),
        # The answer's URL is then downloaded (a handmade PNG, recorded in the cassette):
        # live URLs are signed and expire within the hour, so this one stays handmade.
        ContractCase(
            "url",
            variant,
            "image_generations_single",
            {**single, "response_format": "url"},
            ExpectedRequest("images/generations", {**single, "response_format": "url"}),
            Expected(output=image_bytes, usage=False),
            handmade=f"{prefix}_image_url",
            live=False,
        ),
        ContractCase(
            "one_image",
            variant,
            "image_generations_advanced",
            {"request": advanced},
            ExpectedRequest("images/generations", advanced),
            Expected(output=full_response, usage=False),
            handmade=f"{prefix}_image_b64",
            live=openai,
        ),
    ]


_RAW_EMBEDDING = {"input": _TEXTS[0], "dimensions": 8}


def _raw_cases() -> list[ContractCase]:
    openai_body = {"model": "text-embedding-3-small", **_RAW_EMBEDDING}
    chat_body = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 20}
    return [
        ContractCase(
            "get_models",
            "openai",
            "raw_request",
            {"method": "GET", "path": "models"},
            ExpectedRequest("models", method="GET"),
            Expected(output=raw_answer, usage=False),
            handmade="openai_models",
        ),
        ContractCase(
            "post_json",
            "openai",
            "raw_request",
            {"method": "POST", "path": "embeddings", "json": openai_body},
            ExpectedRequest("embeddings", openai_body),
            Expected(output=raw_answer, usage=False),
            handmade="openai_raw_embeddings",
        ),
        # Azure's paths are relative to the deployment, which offers no GET: two POSTs.
        ContractCase(
            "post_json",
            "azure_api_key",
            "raw_request",
            {"method": "POST", "path": "embeddings", "json": _RAW_EMBEDDING},
            ExpectedRequest("embeddings", _RAW_EMBEDDING),
            Expected(output=raw_answer, usage=False),
            handmade="azure_raw_embeddings",
            live=False,  # the re-recording deployment is a chat model
        ),
        ContractCase(
            "post_chat",
            "azure_api_key",
            "raw_request",
            {"method": "POST", "path": "chat/completions", "json": chat_body},
            ExpectedRequest("chat/completions", chat_body),
            Expected(output=raw_answer, usage=False),
            handmade="azure_raw_chat",
        ),
    ]


CASES: list[ContractCase] = [
    *_success_cases("openai", "openai"),
    *_success_cases("azure_api_key", "azure"),
    *_embeddings_cases("openai", "openai"),
    *_embeddings_cases("azure_api_key", "azure"),
    *_images_cases("openai", "openai"),
    *_images_cases("azure_api_key", "azure"),
    *_raw_cases(),
    *_today_cases(),
    *_azure_v1_cases(),
    # OpenAI's mock defines only 200 and 429 for chat: the other statuses are
    # recorded as a valid 200 exchange whose answer handmade.py replaces.
    _error_case("openai", "error_401_invalid_key", 401, code="invalid_api_key"),
    _error_case(
        "openai",
        "error_404_model_not_found",
        404,
        payload={**_SMALL, "model": "gpt-unknown"},
        code="model_not_found",
    ),
    _error_case(
        "openai",
        "error_429_rate_limited",
        429,
        mock_status=429,
        retry_after_s=20.0,
        code="rate_limit_exceeded",
    ),
    _error_case("openai", "error_500_server_error", 500),
    _error_case("azure_api_key", "error_401_invalid_key", 401, mock_status=401, code="401"),
    _error_case(
        "azure_api_key",
        "error_404_deployment_not_found",
        404,
        mock_status=404,
        code="DeploymentNotFound",
    ),
    _error_case("azure_api_key", "error_429_rate_limited", 429, mock_status=429, retry_after_s=6.0),
    _error_case(
        "azure_api_key", "error_400_content_filter", 400, mock_status=400, code="content_filter"
    ),
    _error_case("azure_api_key", "error_500_server_error", 500, mock_status=500),
]


def by_id() -> dict[str, ContractCase]:
    """Cases by ``provider/operation/name``; names must be unique per cassette."""
    found: dict[str, ContractCase] = {}
    for case in CASES:
        if case.id in found:
            raise RuntimeError(f"two contract cases write {case.id}")
        found[case.id] = case
    return found
