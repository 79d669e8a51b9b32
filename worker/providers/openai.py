"""The OpenAI wire layout, and OpenAI-compatible servers: ``{endpoint}/{path}``, bearer key."""

from __future__ import annotations

from typing import Any

from worker.configurations import Configuration


class OpenAIProvider:
    """Builds OpenAI requests; ``model`` stays in the body, the API needs it."""

    name = "openai"
    sends_model = True
    answer_limit_field = "max_completion_tokens"
    developer_role = True

    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration
        self.base_url = configuration.endpoint.rstrip("/")

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def query(self, path: str) -> dict[str, str]:
        return {}

    def auth_headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.configuration.api_key}"}
        if self.configuration.organization:
            headers["OpenAI-Organization"] = self.configuration.organization
        return headers

    def prepare_body(self, body: dict[str, Any]) -> dict[str, Any]:
        return body


class OpenAICompatibleProvider(OpenAIProvider):
    """A server speaking OpenAI's API (vLLM, llama.cpp, Ollama…): the 2024 dialect.

    ``max_tokens`` rather than ``max_completion_tokens``, ``system`` rather than
    ``developer`` messages (chat templates of open models seldom know that role), no
    organization header, and ``model`` only when the payload gives one (a server that
    serves one model may not need it).
    """

    name = "openai_compatible"
    sends_model = False
    answer_limit_field = "max_tokens"
    developer_role = False

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.configuration.api_key}"}
