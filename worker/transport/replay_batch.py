"""Offline replay of the Batch API: Files and Batches calls answered with state.

A recorded batch's output file answers the recording's requests (its ``custom_id``s),
never those of the jobs being replayed. So ``ReplayHttpClient`` hands these calls here,
which answers them from the recordings while keeping what it was sent:

- ``POST …/files``, an upload: the uploaded lines' ``custom_id``s are kept; the answer
  is a recorded upload's, under a new file id.
- ``POST …/batches``: the answer recorded for a batch of the same ``endpoint`` whose
  cassette saw it complete, under a new batch id, naming the file and metadata sent.
- ``GET …/batches/{id}`` of that batch: its cassette's last answer for it
  (``completed``), with new ids for its output and error files.
- ``GET …/files/{id}/content`` of that output file: one line per uploaded line, each the
  cassette's first output line (the recorded answer to that endpoint) with the uploaded
  line's ``custom_id``; the error file is empty. ``DELETE`` of these files succeeds.

Every other call (a search of files or batches, made only after a crash) is played
from the recordings as any request is. New ids are the recorded ones with a suffix, so
groups in flight at once never share one.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from requests.structures import CaseInsensitiveDict
from requests_toolbelt.multipart.decoder import MultipartDecoder

from worker.errors import TransportError
from worker.transport.http import HttpResponse

#: ``{root}/files``, ``{root}/batches``, an id, ``content`` or ``cancel``.
_CALL = re.compile(
    r"^(?P<root>.*)/(?P<kind>files|batches)(?:/(?P<id>[^/]+)(?:/(?P<action>content|cancel))?)?$"
)
Query = tuple[tuple[str, str], ...]


class Recorded(Protocol):
    """A recording as ``replay`` reads it."""

    @property
    def body(self) -> Any: ...

    @property
    def response(self) -> HttpResponse: ...

    @property
    def source(self) -> str: ...

    def matches(self, method: str, path: str, query: Query) -> bool: ...


@dataclass
class _Batch:
    """A batch created during the replay, and the recorded one it follows."""

    input_file: str
    endpoint: str
    metadata: Any
    #: The cassette's last answer to a retrieve of the recorded batch.
    final: HttpResponse
    #: The cassette's first line of the recorded batch's output file.
    template: dict[str, Any]
    output_file: str | None
    error_file: str | None


class BatchReplay:
    """The Files and Batches calls of a replay; thread-safe."""

    def __init__(self, recordings: Sequence[Recorded]) -> None:
        self.recordings = recordings
        #: Uploaded file id → its lines' custom_ids.
        self._uploads: dict[str, list[str]] = {}
        self._batches: dict[str, _Batch] = {}
        #: Output or error file id → the batch whose answers it holds (None: none).
        self._results: dict[str, _Batch | None] = {}
        self._serial = itertools.count(1)
        self._lock = threading.Lock()

    def answer(
        self,
        method: str,
        path: str,
        query: Query,
        *,
        json_body: Any,
        data: Any,
        headers: Mapping[str, str],
    ) -> HttpResponse | None:
        """The answer to a Files or Batches call made statefully, or None: play it as
        any other request."""
        call = _CALL.match(path)
        if call is None:
            return None
        kind, ident, action = call["kind"], call["id"], call["action"]
        with self._lock:
            if (method, kind, ident) == ("POST", "files", None) and data is not None:
                return self._upload(path, query, data, headers)
            if (method, kind, ident) == ("POST", "batches", None) and isinstance(json_body, dict):
                return self._create(path, query, json_body)
            if method == "GET" and kind == "batches" and not action and ident in self._batches:
                return self._retrieve(ident)
            if method == "GET" and action == "content" and ident in self._results:
                return self._content(self._results[ident])
            ours = ident in self._results or ident in self._uploads
            if (method, kind, action) == ("DELETE", "files", None) and ours:
                return _json(200, {"id": ident, "object": "file", "deleted": True})
        return None

    def _upload(
        self, path: str, query: Query, data: Any, headers: Mapping[str, str]
    ) -> HttpResponse | None:
        recorded = next(self._recorded("POST", path, query), None)
        if recorded is None:
            return None
        filename, content = _uploaded_file(data, _header(headers, "Content-Type"))
        answer = recorded.response.json()
        file_id = f"{answer.get('id')}-replay{next(self._serial)}"
        try:
            lines = [json.loads(line) for line in content.splitlines() if line.strip()]
            self._uploads[file_id] = [str(line.get("custom_id")) for line in lines]
        except (ValueError, AttributeError):
            raise TransportError(
                f"offline replay: the file uploaded to {path} is not JSON Lines of requests"
            ) from None
        answer.update(id=file_id, bytes=len(content), filename=filename or answer.get("filename"))
        return _json(recorded.response.status_code, answer)

    def _create(self, path: str, query: Query, sent: dict[str, Any]) -> HttpResponse | None:
        endpoint = sent.get("endpoint")
        for recorded in self._recorded("POST", path, query):
            if not isinstance(recorded.body, dict) or recorded.body.get("endpoint") != endpoint:
                continue
            created = recorded.response.json()
            followed = self._completed(recorded, path, query, str(created.get("id")))
            if followed is None:
                continue
            final, template, result_files = followed
            serial = next(self._serial)
            batch_id = f"{created.get('id')}-replay{serial}"
            files = {name: f"{found}-replay{serial}" for name, found in result_files.items()}
            batch = _Batch(
                input_file=str(sent.get("input_file_id")),
                endpoint=str(endpoint),
                metadata=sent.get("metadata"),
                final=final,
                template=template,
                output_file=files.get("output_file_id"),
                error_file=files.get("error_file_id"),
            )
            self._batches[batch_id] = batch
            if batch.output_file:
                self._results[batch.output_file] = batch
            if batch.error_file:
                self._results[batch.error_file] = None
            return _json(recorded.response.status_code, self._as_sent(created, batch_id, batch))
        return None

    def _completed(
        self, created: Recorded, path: str, query: Query, batch_id: str
    ) -> tuple[HttpResponse, dict[str, Any], dict[str, str]] | None:
        """The recorded batch's last retrieve, first output line and result files, if
        its cassette saw it complete."""
        polls = [
            r
            for r in self._recorded("GET", f"{path}/{batch_id}", query)
            if r.source == created.source
        ]
        final = polls[-1].response.json() if polls else {}
        output = final.get("output_file_id")
        if final.get("status") != "completed" or not output:
            return None
        root = path.rsplit("/", 1)[0]
        for read in self._recorded("GET", f"{root}/files/{output}/content", query):
            lines = [line for line in read.response.content.splitlines() if line.strip()]
            if read.source == created.source and lines:
                files = {
                    name: str(final[name])
                    for name in ("output_file_id", "error_file_id")
                    if final.get(name)
                }
                return polls[-1].response, json.loads(lines[0]), files
        return None

    def _retrieve(self, batch_id: str) -> HttpResponse:
        batch = self._batches[batch_id]
        answer = self._as_sent(batch.final.json(), batch_id, batch)
        answer.update(output_file_id=batch.output_file, error_file_id=batch.error_file)
        return _json(batch.final.status_code, answer)

    def _content(self, batch: _Batch | None) -> HttpResponse:
        """An output file: the template line once per uploaded line; an error file: empty."""
        lines = []
        if batch is not None:
            for i, custom_id in enumerate(self._uploads.get(batch.input_file, [])):
                line = {**batch.template, "id": f"batch_req_replay{i}", "custom_id": custom_id}
                lines.append(json.dumps(line) + "\n")
        content = "".join(lines).encode("utf-8")
        headers = CaseInsensitiveDict({"Content-Type": "application/octet-stream"})
        return HttpResponse(200, headers, content)

    @staticmethod
    def _as_sent(answer: dict[str, Any], batch_id: str, batch: _Batch) -> dict[str, Any]:
        return {
            **answer,
            "id": batch_id,
            "input_file_id": batch.input_file,
            "endpoint": batch.endpoint,
            "metadata": batch.metadata,
        }

    def _recorded(self, method: str, path: str, query: Query) -> Iterator[Recorded]:
        return (r for r in self.recordings if r.matches(method, path, query))


def _uploaded_file(data: Any, content_type: str) -> tuple[str | None, bytes]:
    """The file part of an upload (a ``MultipartEncoder`` or its bytes): name, content."""
    raw = data.read() if hasattr(data, "read") else data
    raw = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    for part in MultipartDecoder(raw, content_type).parts:
        disposition = part.headers.get(b"Content-Disposition", b"").decode("utf-8")
        if 'name="file"' in disposition:
            found = re.search(r'filename="([^"]*)"', disposition)
            return (found.group(1) if found else None), part.content
    return None, b""


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((value for key, value in headers.items() if key.lower() == name.lower()), "")


def _json(status: int, body: Any) -> HttpResponse:
    headers = CaseInsensitiveDict({"Content-Type": "application/json"})
    return HttpResponse(status, headers, json.dumps(body).encode("utf-8"))
