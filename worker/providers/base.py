"""What every provider offers, and the client that sends a JSON call through one."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

from worker.configurations import Configuration
from worker.errors import ProviderError, TransportError
from worker.observer import JobObserver, NullObserver
from worker.providers.errors import body_snippet, error_from_response
from worker.ratelimit import Limiter, NoLimit
from worker.redaction import register_secret
from worker.transport import HttpClient, HttpResponse

#: The paths metrics name; any other (a raw request's) is counted as ``OTHER_PATH``.
OBSERVED_PATHS = frozenset({"chat/completions", "embeddings", "images/generations", "responses"})
OTHER_PATH = "/other"


class Provider(Protocol):
    """A wire layout: where a path goes, which auth headers and query it needs."""

    name: str
    #: Whether a payload must name the model (OpenAI); else the configuration decides.
    sends_model: bool
    #: ``max_completion_tokens`` or, for older APIs and compatible servers, ``max_tokens``.
    answer_limit_field: str
    #: Whether ``developer`` messages are understood; else they are sent as ``system``.
    developer_role: bool
    configuration: Configuration
    base_url: str

    def url(self, path: str) -> str: ...

    def query(self, path: str) -> dict[str, str]: ...

    def auth_headers(self) -> dict[str, str]: ...

    def prepare_body(self, body: dict[str, Any]) -> dict[str, Any]: ...


class ProviderClient:
    """Sends calls for one configuration and turns error answers into ``ProviderError``."""

    def __init__(
        self,
        provider: Provider,
        http: HttpClient,
        observer: JobObserver | None = None,
        limiter: Limiter | None = None,
        *,
        timeout_s: float | None = None,
    ) -> None:
        self.provider = provider
        self.http = http
        register_secret(provider.configuration.api_key)
        #: The read timeout of this job's calls (``Settings.read_timeout_s``).
        self.timeout_s = timeout_s
        self.observer: JobObserver = observer or NullObserver()
        self.limiter: Limiter = limiter or NoLimit()

    @property
    def configuration(self) -> Configuration:
        return self.provider.configuration

    def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body to ``path`` (``chat/completions``…) and return the JSON answer."""
        response = self.send("POST", path, json_body=self.provider.prepare_body(body))
        answer = self.parse_json(response)
        usage = answer.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("total_tokens"), int):
            self.limiter.record_tokens(usage["total_tokens"])
        return answer

    def send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        files: Any = None,
        timeout_s: float | None = None,
    ) -> HttpResponse:
        """Send any request with this configuration's auth; raise on an error status."""
        merged_headers = {"Accept": "application/json", **(headers or {})}
        merged_headers.update(self.provider.auth_headers())
        url = self.provider.url(path)  # before the limiter: a path it cannot serve costs none
        self.limiter.acquire()
        started = time.perf_counter()
        try:
            response = self.http.request(
                method,
                url,
                headers=merged_headers,
                json_body=json_body,
                params={**(params or {}), **self.provider.query(path)},
                data=data,
                files=files,
                timeout_s=timeout_s or self.timeout_s,
            )
        except TransportError:
            self._observe(path, 0, started)
            raise
        self._observe(path, response.status_code, started)
        if response.status_code >= 300:
            raise error_from_response(response)
        return response

    def _observe(self, path: str, status_code: int, started: float) -> None:
        # A fixed set of path labels: raw requests may name any path (one series each).
        label = path if path in OBSERVED_PATHS else OTHER_PATH
        self.observer.provider_response(
            self.configuration.name, label, status_code, time.perf_counter() - started
        )

    def parse_json(self, response: HttpResponse) -> dict[str, Any]:
        """The body of a success answer, which must be a JSON object."""
        try:
            body = response.json()
        except ValueError:
            raise ProviderError(
                "the provider answered with a body that is not JSON: " + body_snippet(response),
                status_code=response.status_code,
                retryable=True,
            ) from None
        if not isinstance(body, dict):
            raise ProviderError(
                "the provider answered with JSON that is not an object",
                status_code=response.status_code,
                retryable=True,
            )
        return body
