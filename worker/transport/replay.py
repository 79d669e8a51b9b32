"""Offline replay: provider calls answered from recorded cassettes, not the network.

For apps that enqueue jobs and want to test their integration without keys or cost
(``openai-worker run --replay DIR``). Every ``*.yaml`` / ``*.yml`` file under the
directory is read as a vcrpy cassette (``interactions: [{request, response}]``). A
request matches a recording on method, path and query, whatever the host. Bodies matter
when both are JSON: they must be equal, so a hand-written recording without a body
answers any body sent to its path. Recordings that match the same request are played
in order, the last one repeating. A request with no recording fails with a
non-retryable ``TransportError`` that names it. Requests made on ``session`` directly
(the download of a generated image from the URL an answer gave) are answered from the
same recordings: nothing reaches the network. The Batch API's Files and Batches calls
are answered with state of their own (``replay_batch``), so a batch-tier job's answer
line carries its own ``custom_id``.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from requests.structures import CaseInsensitiveDict

from worker.errors import ProviderError, SettingsError, TransportError
from worker.transport.download import Download
from worker.transport.http import HttpClient, HttpResponse, StreamedLines
from worker.transport.replay_batch import BatchReplay

#: Stands for "this recording answers any body" (a recording with no body).
ANY_BODY = object()
#: Stands for a body that is not JSON (forms, files): never compared.
NOT_JSON = object()


@dataclass(frozen=True)
class Recording:
    """One recorded request, reduced to what replay matches on, and its answer."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: Any
    response: HttpResponse
    source: str

    def matches(self, method: str, path: str, query: tuple[tuple[str, str], ...]) -> bool:
        return (self.method, self.path, self.query) == (method, path, query)


def _json_or_marker(raw: Any) -> Any:
    if raw is None or raw == "" or raw == b"":
        return ANY_BODY
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return NOT_JSON


def _headers(raw: Any) -> CaseInsensitiveDict[str]:
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    for name, value in (raw or {}).items():
        headers[str(name)] = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return headers


def _response(raw: Mapping[str, Any]) -> HttpResponse:
    headers = _headers(raw.get("headers"))
    body = (raw.get("body") or {}).get("string") or b""
    content = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if headers.get("content-encoding", "").lower() == "gzip":
        content = gzip.decompress(content)
        del headers["content-encoding"]
    return HttpResponse(int(raw["status"]["code"]), headers, content)


def _query(pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(pairs))


def load_cassettes(directory: Path) -> list[Recording]:
    """Every recording under ``directory``; ``SettingsError`` if one cannot be read."""
    try:
        import yaml  # type: ignore[import-untyped, unused-ignore]
    except ImportError:  # pragma: no cover - depends on the installation
        raise SettingsError("offline replay reads YAML cassettes: pip install pyyaml") from None
    if not directory.is_dir():
        raise SettingsError(f"replay directory {str(directory)!r} does not exist")
    recordings: list[Recording] = []
    files = sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")])
    for file in files:
        try:
            cassette = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            for interaction in cassette.get("interactions") or []:
                request, response = interaction["request"], interaction["response"]
                parts = urlsplit(request["uri"])
                recordings.append(
                    Recording(
                        method=str(request["method"]).upper(),
                        path=parts.path,
                        query=_query(parse_qsl(parts.query, keep_blank_values=True)),
                        body=_json_or_marker(request.get("body")),
                        response=_response(response),
                        source=str(file),
                    )
                )
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SettingsError(f"cannot read cassette {file}: {exc}") from None
    return recordings


class ReplayHttpClient(HttpClient):
    """An ``HttpClient`` that answers from cassettes and never opens a connection."""

    def __init__(self, directory: Path, *, timeout_s: float, connect_timeout_s: float) -> None:
        super().__init__(timeout_s=timeout_s, connect_timeout_s=connect_timeout_s)
        self.directory = directory
        self.recordings = load_cassettes(directory)
        #: Files and Batches calls, answered with state (``replay_batch``).
        self.batches = BatchReplay(self.recordings)
        self._played: dict[int, int] = {}
        self._replay_lock = threading.Lock()

    def download(
        self, url: str, *, endpoint: str, max_bytes: int, deadline_s: float, accept: str
    ) -> Download:
        """The recorded answer to a download (a generated image's URL); nothing is fetched."""
        answer = self.request("GET", url, headers={"Accept": accept})
        if answer.status_code != 200:
            raise ProviderError(
                f"downloading from {urlsplit(url).hostname} failed: HTTP {answer.status_code}",
                status_code=answer.status_code,
            )
        if len(answer.content) > max_bytes:
            raise ProviderError(f"the download is larger than {max_bytes} bytes")
        content_type = (answer.headers.get("Content-Type") or "").split(";")[0].strip()
        return Download(answer.content, content_type or None)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        json_body: Any = None,
        data: Any = None,
        files: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> HttpResponse:
        """The recorded answer to this request, or a ``TransportError`` naming it."""
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        pairs += [(str(k), str(v)) for k, v in (params or {}).items() if v is not None]
        method, query = method.upper(), _query(pairs)
        batch = self.batches.answer(
            method, parts.path, query, json_body=json_body, data=data, headers=headers
        )
        if batch is not None:
            return batch
        body = NOT_JSON if json_body is None and (data or files) else json_body
        on_path = [r for r in self.recordings if r.matches(method, parts.path, query)]
        candidates = [r for r in on_path if _same_body(r.body, body)]
        if not candidates:
            raise TransportError(_no_recording(method, parts.path, query, len(on_path)))
        return self._next(candidates)

    @contextlib.contextmanager
    def stream_lines(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> Iterator[StreamedLines]:
        """The recorded answer (a batch's output file), line by line."""
        answer = self.request(method, url, headers=headers, params=params)
        if answer.status_code >= 300:
            yield StreamedLines(answer.status_code, answer.headers, answer.content, iter(()))
            return
        lines = (line for line in answer.content.splitlines() if line)
        yield StreamedLines(answer.status_code, answer.headers, b"", lines)

    def _next(self, candidates: list[Recording]) -> HttpResponse:
        # Several recordings of one request play in order; the last one then repeats.
        key = id(candidates[0])
        with self._replay_lock:
            played = self._played.get(key, 0)
            self._played[key] = played + 1
        return candidates[min(played, len(candidates) - 1)].response


def _same_body(recorded: Any, sent: Any) -> bool:
    if recorded is ANY_BODY or recorded is NOT_JSON or sent is NOT_JSON:
        return True
    return bool(recorded == sent)


def _no_recording(method: str, path: str, query: tuple[tuple[str, str], ...], on_path: int) -> str:
    target = path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    why = (
        f"{on_path} recording(s) for this path, none with this body"
        if on_path
        else "nothing recorded for this method, path and query"
    )
    return f"offline replay: no recording for {method} {target} ({why})"
