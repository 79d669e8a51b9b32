"""Outputs too large to build as one JSON string: serialised in pieces.

An operation whose output runs to hundreds of megabytes (the vectors of a large
embeddings job) returns a ``StreamedOutput``: it reads like the output dict, for code
that wants a value, but a result store asks it for its JSON text piece by piece and
never holds the whole of it at once.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any


class StreamedOutput(Mapping[str, Any]):
    """An output that yields its JSON text in pieces, as often as asked."""

    @abstractmethod
    def json_pieces(self) -> Iterator[bytes]:
        """The output's JSON text (UTF-8), in consecutive pieces; may be called again."""


def output_pieces(output: Any) -> Iterator[bytes]:
    """The JSON text of any output: in pieces when streamed, else in one piece."""
    if isinstance(output, StreamedOutput):
        yield from output.json_pieces()
    else:
        yield json.dumps(output).encode()


def plain_output(output: Any) -> Any:
    """The output as plain JSON values (a streamed one is read in whole)."""
    if isinstance(output, StreamedOutput):
        return json.loads(b"".join(output.json_pieces()))
    return output
