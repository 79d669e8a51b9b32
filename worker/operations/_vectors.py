"""Embedding vectors: decoded from an answer into float32 arrays, written back as JSON.

The API computes float32 values; a float list answer prints them as doubles and a
base64 answer packs them little-endian. Either way they are kept as ``array('f')``
(4 bytes a value, against about 32 for a list of Python floats) and printed with 9
significant digits, the fewest that give back every float32 value exactly (12.7
characters a value on average, against 20 for ``repr`` of the same value as a double).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import sys
from array import array
from collections.abc import Iterator, Sequence
from typing import Any

from worker.errors import ProviderError
from worker.results import StreamedOutput

#: Formats one float32 value so that reading it back as float32 gives the same value.
_FLOAT32 = "{:.9g}".format
#: Chunks serialised per piece of a ``ChunkVectors`` output (about 1 MB at 1536 dims).
_CHUNKS_PER_PIECE = 64


def decode_vector(value: Any) -> array[float]:
    """The vector as float32 values, whichever ``encoding_format`` the answer used."""
    if isinstance(value, list):
        if not set(map(type, value)) <= {float, int}:
            raise ProviderError("an embedding in the answer holds values that are not numbers")
        try:
            floats = array("f", value)
        except OverflowError:
            raise ProviderError("an embedding in the answer holds a number out of range") from None
    elif isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ProviderError("a base64 embedding in the answer is not valid base64") from None
        if len(raw) % 4:
            raise ProviderError("a base64 embedding in the answer is not a float32 array")
        floats = array("f")
        floats.frombytes(raw)
        if sys.byteorder == "big":
            floats.byteswap()
    else:
        raise ProviderError("an embedding in the answer is neither a list nor a base64 string")
    # One pass in C: the sum is finite exactly when every value is (no overflow is
    # possible summing float32 values as doubles). JSON has no NaN or infinity.
    if not math.isfinite(sum(floats)):
        raise ProviderError("an embedding in the answer holds a value that is not finite")
    return floats


def pack_vectors(vectors: Sequence[array[float]], usage: Any) -> bytes:
    """Vectors of one answer as compact bytes (a JSON header, then float32 little-endian)."""
    dims = len(vectors[0]) if vectors else 0
    header = json.dumps({"count": len(vectors), "dims": dims, "usage": usage}).encode()
    floats = array("f")
    for vector in vectors:
        floats.extend(vector)
    if sys.byteorder == "big":
        floats.byteswap()
    return header + b"\n" + floats.tobytes()


def unpack_vectors(packed: bytes) -> tuple[list[array[float]], Any]:
    """The vectors and usage ``pack_vectors`` kept."""
    header_text, _, raw = packed.partition(b"\n")
    header = json.loads(header_text)
    floats = array("f")
    floats.frombytes(raw)
    if sys.byteorder == "big":
        floats.byteswap()
    dims = header["dims"]
    vectors = [floats[i * dims : (i + 1) * dims] for i in range(header["count"])]
    return vectors, header["usage"]


def vector_json(floats: array[float]) -> str:
    """The vector as a JSON array of numbers that read back as the same float32 values."""
    return "[" + ",".join(map(_FLOAT32, floats)) + "]"


def vector_floats(floats: array[float]) -> list[float]:
    """The vector as Python floats, each printing as its short float32 form."""
    return [float(text) for text in map(_FLOAT32, floats)]


class ChunkVectors(StreamedOutput):
    """``embeddings_list_input``'s output, ``{"chunks": [{index, key, embedding_vector}]}``.

    Holds each vector as a float32 array and writes the JSON text a few chunks at a
    time, so neither a list of Python floats nor the whole text ever exists at once.
    """

    def __init__(self, keys: Sequence[Any]) -> None:
        self._keys = keys
        self._vectors: list[array[float]] = []

    def extend(self, vectors: Sequence[array[float]]) -> None:
        """The next chunks' vectors, in input order."""
        if len(self._vectors) + len(vectors) > len(self._keys):
            raise ValueError("more vectors than chunks")
        self._vectors.extend(vectors)

    def json_pieces(self) -> Iterator[bytes]:
        yield b'{"chunks": ['
        for start in range(0, len(self._vectors), _CHUNKS_PER_PIECE):
            stop = min(start + _CHUNKS_PER_PIECE, len(self._vectors))
            items = ",".join(self._item_json(index) for index in range(start, stop))
            yield (items if start == 0 else "," + items).encode()
        yield b"]}"

    def _item_json(self, index: int) -> str:
        key = json.dumps(self._keys[index])
        vector = vector_json(self._vectors[index])
        return f'{{"index": {index}, "key": {key}, "embedding_vector": {vector}}}'

    def __getitem__(self, name: str) -> Any:
        if name != "chunks":
            raise KeyError(name)
        return [
            {"index": index, "key": self._keys[index], "embedding_vector": vector_floats(vector)}
            for index, vector in enumerate(self._vectors)
        ]

    def __iter__(self) -> Iterator[str]:
        return iter(("chunks",))

    def __len__(self) -> int:
        return 1
