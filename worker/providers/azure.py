"""The Azure OpenAI wire layouts: per-deployment paths with dated versions, and v1.

Dated API versions: ``{resource}/openai/deployments/{deployment}/{path}?api-version=…``;
the deployment decides the model, so ``model`` is not sent. The v1 API
(``--api-version v1``): ``{resource}/openai/v1/{path}`` for every deployment, named as
``model`` in the body, with no ``api-version`` query (``preview`` sends
``api-version=preview``, for the preview features; image generation, a preview on v1,
always gets it). Both take the key as ``api-key`` or
a Microsoft Entra token as ``Authorization: Bearer``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from worker.configurations import Configuration
from worker.errors import ConfigurationError

# The connector's form ends in /openai/deployments/; a bare /openai or /openai/v1 is seen too.
_RESOURCE_SUFFIX = re.compile(r"(/openai(/deployments|/v1)?)?/*$")
#: The first dated versions that take ``max_completion_tokens`` and the ``developer`` role.
_COMPLETION_TOKENS_SINCE = "2024-09-01"
_DEVELOPER_ROLE_SINCE = "2024-12-01"
#: Paths only the v1 API serves.
_V1_ONLY = ("responses",)


def resource_root(endpoint: str) -> str:
    """``https://R.openai.azure.com`` from any accepted endpoint form."""
    return _RESOURCE_SUFFIX.sub("", endpoint.strip(), count=1)


def _auth_headers(configuration: Configuration) -> dict[str, str]:
    if configuration.key_type == "bearer_token":
        return {"Authorization": f"Bearer {configuration.api_key}"}
    return {"api-key": configuration.api_key}


class AzureProvider:
    """Builds Azure OpenAI requests for one deployment, at a dated API version."""

    name = "azure_openai"
    sends_model = False

    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration
        deployment = quote(configuration.deployment_name or "", safe="")
        self.base_url = f"{resource_root(configuration.endpoint)}/openai/deployments/{deployment}"
        version = (configuration.api_version or "")[:10]
        self.answer_limit_field = (
            "max_completion_tokens" if version >= _COMPLETION_TOKENS_SINCE else "max_tokens"
        )
        self.developer_role = version >= _DEVELOPER_ROLE_SINCE

    def url(self, path: str) -> str:
        path = path.lstrip("/")
        if path.split("?")[0] in _V1_ONLY:
            raise ConfigurationError(
                f"Azure OpenAI serves {path} only through its v1 API; configure "
                f"{self.configuration.name!r} with --api-version v1"
            )
        return f"{self.base_url}/{path}"

    def query(self, path: str) -> dict[str, str]:
        return {"api-version": self.configuration.api_version or ""}

    def auth_headers(self) -> dict[str, str]:
        return _auth_headers(self.configuration)

    def prepare_body(self, body: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in body.items() if key != "model"}


class AzureV1Provider:
    """Builds requests for Azure OpenAI's v1 API: the deployment is the body's ``model``."""

    name = "azure_openai"
    sends_model = False
    answer_limit_field = "max_completion_tokens"
    developer_role = True

    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration
        self.base_url = f"{resource_root(configuration.endpoint)}/openai/v1"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def query(self, path: str) -> dict[str, str]:
        # GA paths need no version; image generation is served on v1 only as a preview
        # (Microsoft's image how-to: ``/openai/v1/images/generations?api-version=preview``).
        preview = self.configuration.api_version == "preview" or path.startswith("images/")
        return {"api-version": "preview"} if preview else {}

    def auth_headers(self) -> dict[str, str]:
        return _auth_headers(self.configuration)

    def prepare_body(self, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "model": self.configuration.deployment_name}
