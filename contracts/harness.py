"""Running a contract case through the real worker, under a vcrpy cassette.

Shared by the recorder and the replay tests: the configurations per wire variant, the
vcrpy settings (matching, scrubbing, host normalisation) and one job delivery through
the real ``JobRunner``, providers, operations and ``HttpClient``.

Cassettes never depend on where they were recorded: hosts are rewritten to fixed
placeholders (``api.openai.com``, ``contract-resource.openai.azure.com``) and the Azure
deployment to ``contract-deployment``; replay uses the same placeholders.
"""

from __future__ import annotations

import contextlib
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import vcr
import vcr.matchers
from cases import ContractCase
from handmade import DOWNLOADS
from requests_toolbelt.multipart.decoder import MultipartDecoder
from vcr.request import Request as VcrRequest

from worker.configurations import (
    Configuration,
    ConfigurationStore,
    KeyRing,
    MemoryBackend,
    generate_secret_key,
)
from worker.engine.runner import Decision, JobRunner
from worker.errors import ProviderError
from worker.functions import FunctionRegistry
from worker.results import MemoryResultStore
from worker.retries import RetryPolicy
from worker.settings import Settings
from worker.transport import HttpClient, HttpResponse
from worker.transport.download import Download
from worker.transport.http import StreamedLines

CONFIGURATION = "contract"
DEPLOYMENT = "contract-deployment"
API_VERSION = "2024-10-21"
OPENAI_BASE = "https://api.openai.com/v1"
AZURE_RESOURCE = "https://contract-resource.openai.azure.com"

#: Keys used while recording against the mocks and while replaying: never in a cassette.
OPENAI_KEY = "sk-contract-recording-key-0123456789"
AZURE_KEY = "azure-contract-recording-key-0123456789"
ENTRA_TOKEN = "eyJ0eXAiOiJKV1Qi.contract-entra-token.0123456789"
ORGANIZATION = "org-contract"
TEST_KEYS = (OPENAI_KEY, AZURE_KEY, ENTRA_TOKEN)

#: Request headers that carry secrets or identify an account; never recorded.
SECRET_HEADERS = ("authorization", "api-key", "openai-organization", "cookie")
#: Response headers that identify an account or a session; never recorded.
SECRET_RESPONSE_HEADERS = ("set-cookie", "openai-organization", "openai-project")
#: Stands in for the secret headers: their names only, so replay can check them.
AUTH_MARKER = "x-contract-auth"
#: Recording against a mock: the status the mock is asked for; never recorded.
MOCK_STATUS_HEADER = "Prefer"

MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "body")
#: Hosts of files the worker downloads from URLs in answers: kept, never normalised.
DOWNLOAD_HOSTS = frozenset(urlsplit(download.url).netloc for download in DOWNLOADS.values())


@dataclass(frozen=True)
class Target:
    """Where a variant's requests go and with which credentials."""

    openai_base: str = OPENAI_BASE
    azure_resource: str = AZURE_RESOURCE
    #: Where Azure's v1 API answers (the same resource; a separate mock when recording).
    azure_v1_resource: str = AZURE_RESOURCE
    deployment: str = DEPLOYMENT
    api_version: str = API_VERSION
    openai_key: str = OPENAI_KEY
    azure_key: str = AZURE_KEY
    entra_token: str = ENTRA_TOKEN
    organization: str | None = ORGANIZATION

    def configuration(self, variant: str) -> Configuration:
        if variant == "openai":
            return Configuration(
                name=CONFIGURATION,
                api_type="openai",
                endpoint=self.openai_base,
                api_key=self.openai_key,
                organization=self.organization,
            )
        bearer = variant.endswith("bearer")
        v1 = variant.startswith("azure_v1")
        return Configuration(
            name=CONFIGURATION,
            api_type="azure_openai",
            endpoint=self.azure_v1_resource if v1 else self.azure_resource,
            api_key=self.entra_token if bearer else self.azure_key,
            deployment_name=self.deployment,
            api_version="v1" if v1 else self.api_version,
            key_type="bearer_token" if bearer else "api_key",
        )


#: Replay talks to the placeholders the recorder wrote.
REPLAY = Target()


# --- the HTTP client seen by the worker -------------------------------------------------


@dataclass
class Sent:
    """One request as the worker handed it to the transport."""

    method: str
    url: str
    headers: dict[str, str]
    json_body: Any
    params: dict[str, Any]

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


class CapturingHttpClient(HttpClient):
    """The real ``HttpClient``, keeping every request it sends; may add headers.

    ``sent`` holds the provider calls (``request``); ``wire`` every request that went
    through the session. Downloads go through the session too, so the cassette answers
    them: the worker's own downloader connects to the address it resolved and checked,
    which vcrpy cannot see (its rules are tested on real sockets in
    ``tests/transport/test_download.py``).
    """

    def __init__(self, extra_headers: Mapping[str, str] | None = None) -> None:
        super().__init__(timeout_s=60.0, connect_timeout_s=5.0)
        self.extra_headers = dict(extra_headers or {})
        self.sent: list[Sent] = []
        self.wire: list[requests.PreparedRequest] = []

    @property
    def session(self) -> requests.Session:
        session = super().session
        if self._on_response not in session.hooks["response"]:
            session.hooks["response"].append(self._on_response)
        return session

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.wire.append(response.request)

    def download(
        self, url: str, *, endpoint: str, max_bytes: int, deadline_s: float, accept: str
    ) -> Download:
        response = self.session.get(
            url, headers={"Accept": accept}, timeout=deadline_s, allow_redirects=False
        )
        if response.status_code != 200:
            raise ProviderError(f"download failed: HTTP {response.status_code}")
        content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
        return Download(response.content[:max_bytes], content_type or None)

    def request(self, method: str, url: str, **kwargs: Any) -> HttpResponse:
        headers = {**kwargs.pop("headers"), **self.extra_headers}
        self.sent.append(
            Sent(
                method,
                url,
                dict(headers),
                kwargs.get("json_body"),
                dict(kwargs.get("params") or {}),
            )
        )
        return super().request(method, url, headers=headers, **kwargs)

    @contextlib.contextmanager
    def stream_lines(self, method: str, url: str, **kwargs: Any) -> Iterator[StreamedLines]:
        """A file's content, read line by line (the batch tier's output files)."""
        headers = {**kwargs.pop("headers"), **self.extra_headers}
        self.sent.append(Sent(method, url, dict(headers), None, dict(kwargs.get("params") or {})))
        with super().stream_lines(method, url, headers=headers, **kwargs) as streamed:
            yield streamed


class ScriptedHttpClient(CapturingHttpClient):
    """Recording a multi-round case: each request goes to the mock (which validates it
    and whose answer vcrpy records, replaced), and the worker gets the hand-made answer
    of that round instead of the mock's placeholder, so it sends the next round."""

    def __init__(self, answers: list[HttpResponse], extra_headers: Mapping[str, str]) -> None:
        super().__init__(extra_headers)
        self.answers = answers

    def request(self, method: str, url: str, **kwargs: Any) -> HttpResponse:
        received = super().request(method, url, **kwargs)
        # A 4xx is the mock refusing the request: the worker sees that, and so does the
        # recorder. Anything else (a 500 means the mock's own answer broke its schema).
        refused = 400 <= received.status_code < 500
        return received if refused else self.answers[len(self.sent) - 1]

    @contextlib.contextmanager
    def stream_lines(self, method: str, url: str, **kwargs: Any) -> Iterator[StreamedLines]:
        with super().stream_lines(method, url, **kwargs) as received:
            for _ in received.lines:  # the mock's answer, read whole: vcrpy records it
                pass
            if 400 <= received.status_code < 500:  # the mock refused the request
                yield received
                return
        answer = self.answers[len(self.sent) - 1]
        scripted = (line for line in answer.content.splitlines() if line)
        yield StreamedLines(answer.status_code, answer.headers, b"", scripted)


# --- one delivery -----------------------------------------------------------------------


def get_weather(city: str) -> dict[str, Any]:
    """The contracts' worker function: a fixed forecast, so rounds replay exactly."""
    return {"city": city, "forecast": "sunny", "celsius": 21}


WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


def contract_functions() -> FunctionRegistry:
    registry = FunctionRegistry()
    registry.register(
        get_weather, description="Current weather for a city", parameters=WEATHER_PARAMETERS
    )
    return registry


@dataclass
class Delivery:
    """What one delivery of a case produced: the runner's decision and the record."""

    decision: Decision
    record: dict[str, Any]
    sent: list[Sent] = field(default_factory=list)
    #: Every request on the wire, downloads included (``CapturingHttpClient.wire``).
    wire: list[requests.PreparedRequest] = field(default_factory=list)


def deliver(case: ContractCase, configuration: Configuration, http: HttpClient) -> Delivery:
    """Run one delivery of the case's job through the real runner, in-memory stores."""
    secret_key = generate_secret_key()
    settings = Settings(secret_keys=(secret_key,), max_retries=case.max_retries)
    results = MemoryResultStore()
    store = ConfigurationStore(MemoryBackend(), KeyRing([secret_key]))
    store.save(configuration)
    runner = JobRunner(
        settings=settings,
        results=results,
        configurations=store,
        http=http,
        functions=contract_functions(),
        policy=RetryPolicy(max_retries=case.max_retries),
    )
    job_id = uuid.uuid4().hex
    with one_request_at_a_time():
        decision = runner.run(
            job_id, case.operation, {"configuration": CONFIGURATION, **case.payload}
        )
    record = results.get(job_id)
    assert record is not None
    return Delivery(
        decision, record, list(getattr(http, "sent", [])), list(getattr(http, "wire", []))
    )


@contextlib.contextmanager
def one_request_at_a_time() -> Iterator[None]:
    """Operations that send in parallel (``MAX_PARALLEL_*`` limits) send one by one.

    vcrpy's connection stubs are not thread-safe: two requests in flight at once lose
    one recording. Contracts are about what is sent, not about concurrency.
    """
    saved: list[tuple[object, str, int]] = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("worker.operations"):
            continue
        for attribute, value in vars(module).items():
            if attribute.startswith("MAX_PARALLEL") and isinstance(value, int):
                saved.append((module, attribute, value))
    for module, attribute, _ in saved:
        setattr(module, attribute, 1)
    try:
        yield
    finally:
        for module, attribute, value in saved:
            setattr(module, attribute, value)


# --- vcrpy: scrubbing, normalising, matching --------------------------------------------


_DEPLOYMENT_PATH = re.compile(r"^/openai/deployments/[^/]+/")


def normalise_uri(uri: str) -> str:
    """The URI with the placeholder host (and deployment) of its provider.

    A download from a URL an answer gave (``DOWNLOAD_HOSTS``) keeps its URI.
    """
    parts = urlsplit(uri)
    if parts.netloc in DOWNLOAD_HOSTS:
        return uri
    if _DEPLOYMENT_PATH.match(parts.path) or parts.path.startswith("/openai/"):
        base = urlsplit(AZURE_RESOURCE)
        path = _DEPLOYMENT_PATH.sub(f"/openai/deployments/{DEPLOYMENT}/", parts.path)
    else:
        base = urlsplit(OPENAI_BASE)
        path = parts.path
    return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))


def scrub_request(request: Any) -> Any:
    """vcrpy hook: drop secrets and mock directives, normalise the URI; a streamed body
    (an upload) is kept as its bytes, which the cassette stores as text."""
    if hasattr(request.body, "read"):
        request = VcrRequest(request.method, request.uri, request.body.read(), request.headers)
    names = sorted(name.lower() for name in request.headers if name.lower() in SECRET_HEADERS)
    for name in list(request.headers):
        if name.lower() in SECRET_HEADERS or name.lower() == MOCK_STATUS_HEADER.lower():
            del request.headers[name]
    if names:
        request.headers[AUTH_MARKER] = ", ".join(names)
    request.uri = normalise_uri(request.uri)
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy hook: drop cookies and account-identifying response headers; a
    ``Location`` (Azure's answer to an upload) names the placeholder host."""
    headers = response.get("headers") or {}
    response["headers"] = {
        name: [normalise_uri(v) for v in value] if name.lower() == "location" else value
        for name, value in headers.items()
        if name.lower() not in SECRET_RESPONSE_HEADERS
    }
    return response


def form_parts(request: Any) -> list[tuple[str, str, bytes]] | None:
    """A ``multipart/form-data`` body's parts (disposition, type, content), else None.

    A boundary is random per request, so uploads are compared part by part.
    """
    content_type = request.headers.get("Content-Type") or ""
    if not content_type.startswith("multipart/form-data"):
        return None
    body = request.body
    body = body.read() if hasattr(body, "read") else body
    body = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
    return [
        (
            part.headers.get(b"Content-Disposition", b"").decode(),
            part.headers.get(b"Content-Type", b"").decode(),
            part.content,
        )
        for part in MultipartDecoder(body, content_type).parts
    ]


def same_body(r1: Any, r2: Any) -> None:
    """vcrpy matcher: vcrpy's own ``body``, and uploads equal part by part."""
    forms = form_parts(r1), form_parts(r2)
    if forms == (None, None):
        vcr.matchers.body(r1, r2)
        return
    assert forms[0] == forms[1], "the uploaded form differs"


def cassette_vcr(record_mode: str, **hooks: Any) -> vcr.VCR:
    """The one vcrpy configuration of the recorder and the replay tests."""
    recorder = vcr.VCR(
        record_mode=record_mode,
        match_on=MATCH_ON,
        before_record_request=hooks.get("before_record_request", scrub_request),
        before_record_response=hooks.get("before_record_response", scrub_response),
        decode_compressed_response=True,
    )
    recorder.register_matcher("body", same_body)
    return recorder
