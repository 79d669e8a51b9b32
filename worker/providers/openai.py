"""The OpenAI wire layout: ``{endpoint}/{path}`` with a bearer key."""

from __future__ import annotations

from typing import Any

from worker.configurations import Configuration


class OpenAIProvider:
    """Builds OpenAI requests; ``model`` stays in the body, the API needs it."""

    name = "openai"
    sends_model = True

    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration
        self.base_url = configuration.endpoint.rstrip("/")

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def query(self) -> dict[str, str]:
        return {}

    def auth_headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.configuration.api_key}"}
        if self.configuration.organization:
            headers["OpenAI-Organization"] = self.configuration.organization
        return headers

    def prepare_body(self, body: dict[str, Any]) -> dict[str, Any]:
        return body
