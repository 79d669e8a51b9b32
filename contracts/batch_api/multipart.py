"""A streaming ``multipart/form-data`` reader: file parts go to disk, fields stay small.

An upload may be hundreds of megabytes, so the body is read in chunks and a file part
is written out as it arrives; at most one chunk plus a delimiter is held in memory.
Header parameters (``name``, ``filename``, the boundary) are parsed by the standard
library's ``email`` package.
"""

from __future__ import annotations

import email.message
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK = 1 << 20
#: Limits on what is kept in memory: a part's headers, a plain (non-file) field.
HEADER_LIMIT = 16 << 10
FIELD_LIMIT = 64 << 10


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class MultipartError(ValueError):
    """The body is not the multipart/form-data it claims to be."""


@dataclass(frozen=True)
class Field:
    """A plain form field."""

    name: str
    value: str


@dataclass(frozen=True)
class FilePart:
    """A file part, written to ``path``."""

    name: str
    filename: str | None
    content_type: str | None
    path: Path
    size: int


@dataclass
class Form:
    fields: dict[str, str]
    files: dict[str, FilePart]

    def discard(self) -> None:
        """Remove the files written for this form."""
        for part in self.files.values():
            part.path.unlink(missing_ok=True)


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type, or ``MultipartError``."""
    header = email.message.Message()
    header["content-type"] = content_type or ""
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        raise MultipartError("Content-Type must be multipart/form-data with a boundary")
    return boundary.encode("latin-1")


def read_form(
    stream: Readable, length: int, boundary: bytes, spool: Path, file_fields: frozenset[str]
) -> Form:
    """Read a whole form; parts named in ``file_fields`` (or with a filename) go to ``spool``."""
    reader = _Reader(stream, length)
    form = Form(fields={}, files={})
    try:
        reader.skip_until(b"--" + boundary)
        while reader.take(2) == b"\r\n":
            _read_part(reader, b"\r\n--" + boundary, spool, file_fields, form)
        reader.drain()
    except BaseException:
        form.discard()
        raise
    return form


def _read_part(
    reader: _Reader, delimiter: bytes, spool: Path, file_fields: frozenset[str], form: Form
) -> None:
    head = bytearray()
    reader.copy_until(b"\r\n\r\n", _limited(head, HEADER_LIMIT, "part headers"))
    headers = email.message.Message()
    for line in head.decode("utf-8", "replace").split("\r\n"):
        key, colon, value = line.partition(":")
        if colon:
            headers[key.strip()] = value.strip()
    name = headers.get_param("name", header="content-disposition")
    if not isinstance(name, str):
        raise MultipartError("a part has no Content-Disposition name")
    filename = headers.get_filename()
    if filename is None and name not in file_fields:
        content = bytearray()
        reader.copy_until(delimiter, _limited(content, FIELD_LIMIT, f"field {name!r}"))
        form.fields[name] = content.decode("utf-8", "replace")
        return
    handle, raw_path = tempfile.mkstemp(dir=spool, suffix=".part")
    path = Path(raw_path)
    size = 0
    with os.fdopen(handle, "wb") as out:
        form.files[name] = FilePart(name, filename, None, path, 0)  # so a failure discards it

        def write(data: bytes) -> None:
            nonlocal size
            size += len(data)
            out.write(data)

        reader.copy_until(delimiter, write)
    content_type = headers.get("content-type")
    form.files[name] = FilePart(name, filename, content_type, path, size)


def _limited(into: bytearray, limit: int, what: str) -> Callable[[bytes], None]:
    def append(data: bytes) -> None:
        if len(into) + len(data) > limit:
            raise MultipartError(f"{what} longer than {limit} bytes")
        into.extend(data)

    return append


class _Reader:
    """At most ``length`` bytes of ``stream``, with a small look-ahead buffer."""

    def __init__(self, stream: Readable, length: int) -> None:
        self._stream = stream
        self._left = length
        self._buffer = b""

    def _fill(self) -> bool:
        if self._left <= 0:
            return False
        data = self._stream.read(min(CHUNK, self._left))
        if not data:
            raise MultipartError("the body ended before its Content-Length")
        self._left -= len(data)
        self._buffer += data
        return True

    def take(self, count: int) -> bytes:
        while len(self._buffer) < count:
            if not self._fill():
                raise MultipartError("the body ended inside the multipart framing")
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def copy_until(self, delimiter: bytes, sink: Callable[[bytes], None]) -> None:
        """Pass everything before ``delimiter`` to ``sink``; consume the delimiter."""
        keep = len(delimiter) - 1
        while True:
            found = self._buffer.find(delimiter)
            if found >= 0:
                sink(self._buffer[:found])
                self._buffer = self._buffer[found + len(delimiter) :]
                return
            if len(self._buffer) > keep:
                sink(self._buffer[: len(self._buffer) - keep])
                self._buffer = self._buffer[len(self._buffer) - keep :]
            if not self._fill():
                raise MultipartError("the closing boundary is missing")

    def skip_until(self, delimiter: bytes) -> None:
        self.copy_until(delimiter, lambda _: None)

    def drain(self) -> None:
        """Consume the epilogue, so the connection can carry the next request."""
        self._buffer = b""
        while self._fill():
            self._buffer = b""
