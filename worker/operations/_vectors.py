"""Embedding vectors from an answer: a float list as is, or base64 little-endian float32."""

from __future__ import annotations

import base64
import binascii
import sys
from array import array
from typing import Any

from worker.errors import ProviderError


def decode_vector(value: Any) -> list[float]:
    """The vector as floats, whichever ``encoding_format`` the answer used."""
    if isinstance(value, list):
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value):
            raise ProviderError("an embedding in the answer holds values that are not numbers")
        return value
    if isinstance(value, str):
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
        # float32 values printed as doubles take 17 digits; 9 significant digits
        # round-trip any float32 and keep the stored result about a third smaller.
        return [float(f"{x:.9g}") for x in floats]
    raise ProviderError("an embedding in the answer is neither a list nor a base64 string")
