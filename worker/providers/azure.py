"""The Azure OpenAI wire layout.

``{resource}/openai/deployments/{deployment}/{path}?api-version={version}``, with the
key as ``api-key`` or a Microsoft Entra token as ``Authorization: Bearer``. The
deployment decides the model, so ``model`` is not sent.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from worker.configurations import Configuration

# The connector's form ends in /openai/deployments/; a bare /openai is seen too.
_RESOURCE_SUFFIX = re.compile(r"(/openai(/deployments)?)?/*$")


def resource_root(endpoint: str) -> str:
    """``https://R.openai.azure.com`` from any accepted endpoint form."""
    return _RESOURCE_SUFFIX.sub("", endpoint.strip(), count=1)


class AzureProvider:
    """Builds Azure OpenAI requests for one deployment."""

    name = "azure_openai"
    sends_model = False

    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration
        deployment = quote(configuration.deployment_name or "", safe="")
        self.base_url = f"{resource_root(configuration.endpoint)}/openai/deployments/{deployment}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def query(self) -> dict[str, str]:
        return {"api-version": self.configuration.api_version or ""}

    def auth_headers(self) -> dict[str, str]:
        if self.configuration.key_type == "bearer_token":
            return {"Authorization": f"Bearer {self.configuration.api_key}"}
        return {"api-key": self.configuration.api_key}

    def prepare_body(self, body: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in body.items() if key != "model"}
