"""A provider configuration: where to send requests and how to authenticate.

A plain value checked on construction, shared by the encrypted store (which keeps the
key encrypted) and the providers (which need it in memory only while a job runs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from schemas.common import callback_url_problem
from worker.errors import ConfigurationError

API_TYPES = ("openai", "azure_openai", "openai_compatible")
KEY_TYPES = ("api_key", "bearer_token")
#: The tiers a job runs in: calls sent at once, or through the providers' Batch APIs.
TIERS = ("standard", "batch")
#: Azure's dated API versions, and ``v1`` / ``preview`` for its v1 API (``/openai/v1/``).
_API_VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2}(-preview)?|v1|preview)$")
#: The Azure API versions served under ``{resource}/openai/v1/``.
V1_API_VERSIONS = ("v1", "preview")
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
_HEADER_VALUE = re.compile(r"^[\x21-\x7e]{1,8192}$")


@dataclass(frozen=True)
class Configuration:
    """One named provider configuration. ``api_key`` never appears in ``repr``."""

    name: str
    api_type: str
    endpoint: str
    api_key: str = field(repr=False)
    deployment_name: str | None = None
    api_version: str | None = None
    key_type: str | None = None
    organization: str | None = None
    #: Optional limits shared by every worker using this configuration.
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    #: The tier of jobs submitted without one: ``standard``, or ``batch`` (the providers'
    #: Batch APIs, for the operations that support it).
    default_tier: str = "standard"
    #: Where the webhook of a job on this configuration goes when its payload names no
    #: ``callback_url`` of its own.
    callback_url: str | None = None

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ConfigurationError(f"configuration {self.name!r}: " + "; ".join(problems))

    @property
    def is_azure(self) -> bool:
        return self.api_type == "azure_openai"

    @property
    def is_azure_v1(self) -> bool:
        """Azure's v1 API: one path for every deployment, the deployment named in the body."""
        return self.is_azure and self.api_version in V1_API_VERSIONS

    def problems(self) -> list[str]:
        """Every reason this configuration cannot be used, as readable sentences."""
        found: list[str] = []
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            found.append("name must be 1-200 printable characters")
        if self.api_type not in API_TYPES:
            found.append(f"api_type must be one of {', '.join(API_TYPES)}")
        found.extend(_endpoint_problems(self.endpoint))
        if not isinstance(self.api_key, str) or not _HEADER_VALUE.match(self.api_key):
            found.append(
                "api_key must be visible ASCII without spaces (it is sent as an HTTP header)"
            )
        if self.api_type == "azure_openai":
            if not self.deployment_name:
                found.append("deployment_name is required for azure_openai")
            elif "/" in self.deployment_name or "?" in self.deployment_name:
                found.append("deployment_name must not contain '/' or '?'")
            if not self.api_version:
                found.append("api_version is required for azure_openai")
            elif not _API_VERSION.match(self.api_version):
                found.append("api_version must be v1, preview, yyyy-mm-dd or yyyy-mm-dd-preview")
            if self.key_type is not None and self.key_type not in KEY_TYPES:
                found.append(f"key_type must be one of {', '.join(KEY_TYPES)}")
            if self.organization:
                found.append("organization applies to openai only")
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                found.append(f"{name} must be a whole number of at least 1")
        if self.default_tier not in TIERS:
            found.append(f"default_tier must be one of {', '.join(TIERS)}")
        elif self.default_tier == "batch" and self.api_type == "openai_compatible":
            found.append("default_tier batch needs a Batch API: openai or azure_openai")
        if self.callback_url is not None:
            problem = callback_url_problem(self.callback_url)
            if problem:
                found.append(f"callback_url {problem}")
        if self.api_type in ("openai", "openai_compatible"):
            for name in ("deployment_name", "api_version", "key_type"):
                if getattr(self, name):
                    found.append(f"{name} applies to azure_openai only")
        if self.api_type == "openai_compatible" and self.organization:
            found.append("organization applies to openai only")
        return found

    def public_dict(self) -> dict[str, Any]:
        """Every field except the key: what ``configurations`` shows."""
        return {
            "name": self.name,
            "api_type": self.api_type,
            "endpoint": self.endpoint,
            "deployment_name": self.deployment_name,
            "api_version": self.api_version,
            "key_type": (self.key_type or "api_key") if self.is_azure else None,
            "organization": self.organization,
            "requests_per_minute": self.requests_per_minute,
            "tokens_per_minute": self.tokens_per_minute,
            "default_tier": self.default_tier,
            "callback_url": self.callback_url,
        }


def _endpoint_problems(endpoint: str) -> list[str]:
    if not isinstance(endpoint, str) or not endpoint:
        return ["endpoint is required"]
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ["endpoint must be an http(s) URL such as https://api.openai.com/v1"]
    if parts.query or parts.fragment or parts.username or parts.password:
        return ["endpoint must not carry a query, a fragment or credentials"]
    return []
