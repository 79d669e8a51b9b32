"""Where a configuration's Batch API lives, and how its batch file's lines read.

OpenAI: ``{endpoint}/files`` and ``{endpoint}/batches``; a line's ``url`` and the
batch's ``endpoint`` are the API path with its version (``/v1/chat/completions``).
Azure OpenAI (dated versions): the resource's ``/openai/files`` and ``/openai/batches``
with ``api-version``; lines name the path without the deployment
(``/chat/completions``) and carry the global-batch deployment as ``model``. Azure's v1
API: ``/openai/v1/files`` and ``/openai/v1/batches``, no ``api-version``. A compatible
server has no Batch API to speak of: its configurations cannot use the tier.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote

from requests_toolbelt import MultipartEncoder

from worker.errors import ConfigurationError, ProviderError
from worker.providers.azure import AzureProvider, AzureV1Provider, resource_root
from worker.providers.base import Provider
from worker.providers.errors import error_from_response
from worker.providers.openai import OpenAICompatibleProvider, OpenAIProvider
from worker.transport import HttpClient

#: The paths the batch tier sends (the operations that map to independent requests).
BATCH_PATHS = frozenset({"chat/completions", "embeddings"})
#: What a file's content is read as. Azure's v1 spec serves it as
#: ``application/octet-stream``; OpenAI's spec declares it ``application/json`` (a
#: string), and its mock refuses with 406 an ``Accept`` that names neither.
CONTENT_ACCEPT = "application/octet-stream, application/json;q=0.5"


@dataclass(frozen=True)
class BatchLayout:
    """The Files and Batches URLs of one configuration, and its lines' dialect."""

    provider: Provider
    #: The root the ``files`` and ``batches`` paths hang from.
    root: str
    #: What goes before an API path in a line's ``url`` and the batch's ``endpoint``.
    line_prefix: str
    #: The ``api-version`` query of the Files and Batches calls (dated Azure only).
    version: dict[str, str]

    def url(self, path: str) -> str:
        return f"{self.root}/{path}"

    def endpoint(self, path: str) -> str:
        """A line's ``url`` and the batch's ``endpoint`` for an API path."""
        return f"{self.line_prefix}/{path}"

    def body(self, body: dict[str, Any]) -> dict[str, Any]:
        """A line's ``body``: the provider's own, with the model a batch file needs."""
        prepared = self.provider.prepare_body(body)
        if isinstance(self.provider, AzureProvider):
            # The deployment is in the URL of a dated call; a batch line must name it.
            prepared = {**prepared, "model": self.provider.configuration.deployment_name}
        return prepared

    def model(self, body: dict[str, Any]) -> str:
        return str(body.get("model") or "")


def batch_layout(provider: Provider) -> BatchLayout:
    """The Batch API of a configuration's provider; refuses one that has none."""
    configuration = provider.configuration
    if isinstance(provider, OpenAICompatibleProvider):
        raise ConfigurationError(
            f"configuration {configuration.name!r} is an OpenAI-compatible server, which has "
            "no Batch API: submit its jobs with tier standard"
        )
    if isinstance(provider, AzureV1Provider):
        root = f"{resource_root(configuration.endpoint)}/openai/v1"
        return BatchLayout(provider, root, "/v1", {})
    if isinstance(provider, AzureProvider):
        root = f"{resource_root(configuration.endpoint)}/openai"
        return BatchLayout(provider, root, "", {"api-version": configuration.api_version or ""})
    if isinstance(provider, OpenAIProvider):
        base = provider.base_url
        prefix = "/" + base.split("://", 1)[-1].partition("/")[2].strip("/")
        return BatchLayout(provider, base, prefix if prefix != "/" else "", {})
    raise ConfigurationError(f"configuration {configuration.name!r} has no Batch API")


class BatchApi:
    """The Files and Batches calls of one configuration, in its wire layout."""

    def __init__(self, layout: BatchLayout, http: HttpClient, *, timeout_s: float) -> None:
        self.layout, self.http, self.timeout_s = layout, http, timeout_s

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {
            "Accept": "application/json",
            **(extra or {}),
            **self.layout.provider.auth_headers(),
        }

    def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        response = self.http.request(
            method,
            self.layout.url(path),
            headers=self._headers(headers),
            json_body=json_body,
            params={**(params or {}), **self.layout.version},
            data=data,
            timeout_s=self.timeout_s,
        )
        if response.status_code >= 300:
            raise error_from_response(response)
        try:
            answer = response.json()
        except ValueError:
            raise ProviderError(
                f"the Batch API answered {path} with a body that is not JSON", retryable=True
            ) from None
        if not isinstance(answer, dict):
            raise ProviderError(f"the Batch API answered {path} with JSON that is not an object")
        return answer

    def upload(self, filename: str, content: IO[bytes]) -> dict[str, Any]:
        """``POST /files`` with purpose ``batch``, streamed from an open file."""
        encoder = MultipartEncoder(
            fields={"purpose": "batch", "file": (filename, content, "application/jsonl")}
        )
        return self._call(
            "POST", "files", data=encoder, headers={"Content-Type": encoder.content_type}
        )

    def find_file(self, filename: str) -> dict[str, Any] | None:
        """A batch file uploaded earlier under ``filename`` (newest first), if any."""
        after: str | None = None
        while True:
            params: dict[str, Any] = {"purpose": "batch", "limit": 10000, "order": "desc"}
            if after:
                params["after"] = after
            page = self._call("GET", "files", params=params)
            files = [item for item in page.get("data") or [] if isinstance(item, dict)]
            for item in files:
                if item.get("filename") == filename:
                    return item
            if not page.get("has_more") or not files:
                return None
            after = str(files[-1].get("id"))

    def create(self, file_id: str, endpoint: str, metadata: dict[str, str]) -> dict[str, Any]:
        body = {
            "input_file_id": file_id,
            "endpoint": endpoint,
            "completion_window": "24h",
            "metadata": metadata,
        }
        return self._call("POST", "batches", json_body=body)

    def find_batch(self, key: str, value: str) -> dict[str, Any] | None:
        """A batch created earlier whose ``metadata[key]`` is ``value``, if any."""
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if after:
                params["after"] = after
            page = self._call("GET", "batches", params=params)
            batches = [item for item in page.get("data") or [] if isinstance(item, dict)]
            for item in batches:
                if (item.get("metadata") or {}).get(key) == value:
                    return item
            if not page.get("has_more") or not batches:
                return None
            after = str(page.get("last_id") or batches[-1].get("id"))

    def get(self, batch_id: str) -> dict[str, Any]:
        return self._call("GET", f"batches/{quote(batch_id, safe='')}")

    def cancel(self, batch_id: str) -> dict[str, Any]:
        return self._call("POST", f"batches/{quote(batch_id, safe='')}/cancel")

    def delete_file(self, file_id: str) -> None:
        """Delete a file; one already gone is fine."""
        try:
            self._call("DELETE", f"files/{quote(file_id, safe='')}")
        except ProviderError as exc:
            if exc.status_code != 404:
                raise

    @contextlib.contextmanager
    def lines(self, file_id: str) -> Iterator[Iterator[bytes]]:
        """The lines of a file's content (an output or error file), streamed."""
        with self.http.stream_lines(
            "GET",
            self.layout.url(f"files/{quote(file_id, safe='')}/content"),
            headers=self._headers({"Accept": CONTENT_ACCEPT}),
            params=self.layout.version,
            timeout_s=self.timeout_s,
        ) as streamed:
            if streamed.status_code >= 300:
                raise error_from_response(streamed.response())
            yield streamed.lines
