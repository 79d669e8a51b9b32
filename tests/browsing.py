"""Reading the dashboard from tests: HTTP without following redirects, and the pixels of
a browser's PNG screenshot (standard library only).

Imported as ``browsing`` (pytest's ``pythonpath`` includes ``tests``).
"""

from __future__ import annotations

import struct
import urllib.error
import urllib.request
import zlib
from typing import Any


def fetch(url: str, *, data: bytes | None = None, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and raw rows of an 8-bit RGB(A) non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        chunks += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    assert color in (2, 6)
    step = 3 if color == 2 else 4
    raw, stride, rows, previous = zlib.decompress(chunks), width * step, [], bytes(width * step)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for x in range(stride):
            left = line[x - step] if x >= step else 0
            up, corner = previous[x], previous[x - step] if x >= step else 0
            if kind == 1:
                line[x] = (line[x] + left) & 255
            elif kind == 2:
                line[x] = (line[x] + up) & 255
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (
                    line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)
                ) & 255
        rows.append(bytes(line))
        previous = bytes(line)
    return width, height, [bytes(r[i] for i in range(len(r)) if i % step < 3) for r in rows]


def distinct_colours(rows: list[bytes], step: int = 1) -> int:
    """How many RGB colours a screenshot's rows (from ``png_pixels``) hold, sampling every
    ``step``-th row and pixel."""
    found = set()
    for row in rows[::step]:
        for x in range(0, len(row) - 2, 3 * step):
            found.add(row[x : x + 3])
    return len(found)
