"""The table of contract cases, read by the recorder and by the replay tests alike.

One case is one cassette: ``cassettes/<provider>/<operation>/<name>.yaml``. Adding an
operation's contract is adding rows here (and, when the mocks' placeholder answers
will not do, a realistic answer in ``handmade.py``), then ``make record-cassettes``.

Expected outputs are computed from the recorded answers, not written out, so a
re-recording against the real services (whose words differ run to run) still checks
that the worker read the answer correctly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"

#: The expected ``output`` of a success, computed from the recorded JSON answers.
OutputFrom = Callable[[list[Any]], dict[str, Any]]


@dataclass(frozen=True)
class ExpectedRequest:
    """What the worker must send, beyond what the provider variant decides.

    ``path`` is relative to the configuration's base (``/v1/`` for OpenAI,
    ``/openai/deployments/<deployment>/`` for Azure); ``body`` lists fields that must be
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


@dataclass(frozen=True)
class ContractCase:
    """One recorded conversation between the worker and a provider."""

    name: str
    variant: str  # openai | azure_api_key | azure_bearer
    operation: str
    payload: dict[str, Any]
    request: ExpectedRequest
    expected: Expected
    #: Mock recording: ask the mock for this status (``Prefer: code=N``).
    mock_status: int | None = None
    #: Mock recording: a key of ``handmade.RESPONSES`` replacing the mock's answer.
    handmade: str | None = None
    #: Whether a recording against the real service can produce this case.
    live: bool = True
    #: Retries the runner may plan (1 for a 429, to see the Retry-After delay).
    max_retries: int = 0

    @property
    def provider(self) -> str:
        return "openai" if self.variant == "openai" else "azure"

    @property
    def cassette(self) -> Path:
        return CASSETTES / self.provider / self.operation / f"{self.name}.yaml"

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.operation}/{self.name}"


# --- expected outputs, read independently of the operation code -------------------------


def chat_text(answers: list[Any]) -> dict[str, Any]:
    """The simple chat operations' output: the last answer's first choice."""
    choice = answers[-1]["choices"][0]
    return {
        "assistant_response_text": choice["message"]["content"],
        "finish_reason": choice["finish_reason"],
    }


def full_response(answers: list[Any]) -> dict[str, Any]:
    """The advanced operations' output: the answer exactly as the API returned it."""
    return dict(answers[-1])


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
    "max_tokens": 50,
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
            ExpectedRequest("chat/completions", {**model, "messages": _HISTORY}, absent),
            Expected(output=chat_text),
            handmade=f"{prefix}_chat_hello_ada",
        ),
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
            ExpectedRequest("chat/completions", {**model, "max_tokens": 60}, absent),
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
            Expected(output=chat_text),
            handmade=f"{prefix}_chat_json",
        ),
        ContractCase(
            "vision",
            variant,
            CHAT,
            _VISION_CHAT,
            ExpectedRequest(
                "chat/completions",
                {**model, "messages": _VISION_MESSAGES, "max_tokens": 60},
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


CASES: list[ContractCase] = [
    *_success_cases("openai", "openai"),
    *_success_cases("azure_api_key", "azure"),
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
