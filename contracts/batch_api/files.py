"""Stored files, and the check of a batch input file's lines.

A file's bytes stay on disk in the server's directory; memory holds its wire object
and, for an input file, one small ``BatchRequest`` per line: what the answer needs
(``custom_id``, the kind of answer), not the request body.

Lines are checked as OpenAI's ``BatchRequestInput``: ``custom_id`` a string unique in
the file, ``method`` POST, ``url`` one the layout accepts, ``body`` an object with a
``model``; one url and one model for the whole file. The error codes are those of
Microsoft's batch troubleshooting table (``invalid_json_line``, ``duplicate_custom_id``,
``url_mismatch``, ``model_mismatch``, ``invalid_request``, ``empty_batch``). Lines are
decoded as plain UTF-8, so a byte-order mark is an invalid line, as Azure treats it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from batch_api.wire import ApiError, Layout, not_found, now

STRUCTURED_TYPES = frozenset({"json_object", "json_schema"})
#: OpenAI's batch input files expire after 30 days unless told otherwise.
DEFAULT_BATCH_FILE_TTL = 30 * 24 * 3600


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """One line of an input file, as much as its answer needs."""

    custom_id: str
    structured: bool = False
    inputs: int = 1
    base64: bool = False
    dimensions: int | None = None
    size: int = 0


@dataclass(frozen=True)
class InputSummary:
    url: str
    model: str
    requests: tuple[BatchRequest, ...]


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    path: Path
    size: int
    created_at: int
    expires_at: int | None = None
    status: str = "processed"
    polls_until_processed: int = 0
    inputs: InputSummary | None = None
    sequence: int = field(default=0, compare=False)

    def wire(self) -> dict[str, Any]:
        """The file's ``OpenAIFile`` object."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.size,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": self.status,
            "status_details": None,
        }

    def polled(self) -> None:
        if self.polls_until_processed > 0:
            self.polls_until_processed -= 1
            if self.polls_until_processed == 0:
                self.status = "processed"


class FileStore:
    """Every file of the server, on disk under ``root``; safe across threads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[str, StoredFile] = {}
        self._lock = threading.Lock()
        self._sequence = 0

    def add(self, stored: StoredFile) -> StoredFile:
        with self._lock:
            self._sequence += 1
            stored.sequence = self._sequence
            self._files[stored.id] = stored
        return stored

    def write(
        self, layout: Layout, filename: str, purpose: str, fill: Callable[[BinaryIO], None]
    ) -> StoredFile:
        """Store a file the server makes (an output or error file), written by ``fill``."""
        file_id = layout.new_file_id()
        path = self.root / f"{file_id}.jsonl"
        with path.open("wb") as out:
            fill(out)
            size = out.tell()
        return self.add(StoredFile(file_id, filename, purpose, path, size, now()))

    def poll(self, file_id: str) -> StoredFile:
        """A retrieve: a still-pending file comes one poll closer to ``processed``."""
        with self._lock:
            stored = self._files.get(file_id)
            if stored is not None:
                stored.polled()
        if stored is None:
            raise not_found("file", file_id)
        return stored

    def get(self, file_id: str) -> StoredFile:
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None:
            raise not_found("file", file_id)
        return stored

    def delete(self, file_id: str) -> StoredFile:
        with self._lock:
            stored = self._files.pop(file_id, None)
        if stored is None:
            raise not_found("file", file_id)
        stored.path.unlink(missing_ok=True)
        return stored

    def listing(self, purpose: str | None) -> list[StoredFile]:
        """Files oldest first, optionally of one purpose."""
        with self._lock:
            files = sorted(self._files.values(), key=lambda f: f.sequence)
        return [f for f in files if purpose is None or f.purpose == purpose]


def scan_input(path: Path, layout: Layout) -> InputSummary:
    """Check every line of an input file; the summary, or a 400 naming the first bad line."""
    requests: list[BatchRequest] = []
    seen: set[str] = set()
    url: str | None = None
    model: str | None = None
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            request, line_url, line_model = _check_line(number, raw, layout)
            if request.custom_id in seen:
                raise _line_error(number, "duplicate_custom_id", "custom_id must be unique")
            seen.add(request.custom_id)
            if url is not None and line_url != url:
                raise _line_error(number, "url_mismatch", f"url {line_url!r} differs from {url!r}")
            if model is not None and line_model != model:
                raise _line_error(number, "model_mismatch", "every line must name one model")
            url, model = line_url, line_model
            requests.append(request)
    if url is None or model is None:
        raise ApiError(400, "The input file has no requests", code="empty_batch", param="file")
    return InputSummary(url, model, tuple(requests))


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The parsed lines of a stored input file."""
    with path.open("rb") as lines:
        for raw in lines:
            if raw.strip():
                yield json.loads(raw)


def _check_line(number: int, raw: bytes, layout: Layout) -> tuple[BatchRequest, str, str]:
    try:
        line = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise _line_error(number, "invalid_json_line", f"not a JSON object ({error})") from None
    if not isinstance(line, dict):
        raise _line_error(number, "invalid_json_line", "not a JSON object")
    custom_id, method, url, body = (line.get(k) for k in ("custom_id", "method", "url", "body"))
    if not isinstance(custom_id, str) or not custom_id:
        raise _line_error(number, "invalid_request", "custom_id must be a non-empty string")
    if method != "POST":
        raise _line_error(number, "invalid_request", "method must be POST")
    if not isinstance(url, str) or url not in layout.line_urls:
        allowed = ", ".join(sorted(layout.line_urls))
        raise _line_error(number, "invalid_request", f"url must be one of {allowed}")
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise _line_error(number, "invalid_request", "body must be an object with a model")
    return _request(number, custom_id, url, body, len(raw)), url, body["model"]


def _request(
    number: int, custom_id: str, url: str, body: dict[str, Any], size: int
) -> BatchRequest:
    if url.endswith("/embeddings"):
        given = body.get("input")
        if isinstance(given, list) and given and not isinstance(given[0], int):
            inputs = len(given)  # several strings, or several token arrays
        else:
            inputs = 1  # one string, or one token array
        dimensions = body.get("dimensions")
        return BatchRequest(
            custom_id,
            inputs=inputs,
            base64=body.get("encoding_format") == "base64",
            dimensions=dimensions if isinstance(dimensions, int) and dimensions > 0 else None,
            size=size,
        )
    if url.endswith("/responses"):
        text = body.get("text")
        shape = text.get("format") if isinstance(text, dict) else None
    else:
        shape = body.get("response_format")
    structured = isinstance(shape, dict) and shape.get("type") in STRUCTURED_TYPES
    return BatchRequest(custom_id, structured=structured, size=size)


def _line_error(number: int, code: str, message: str) -> ApiError:
    return ApiError(400, f"Line {number} of the input file: {message}", code=code, param="file")
