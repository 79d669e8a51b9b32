"""Counting tokens for the embeddings limits, exactly when a tokenizer is installed.

``tiktoken`` downloads its BPE tables at run time, which an offline worker cannot do;
``bpe-openai`` ships ``cl100k_base`` (the encoding of every OpenAI embedding model)
inside the package. When it is installed, counts are exact. Otherwise two estimates
stand in, each erring on the safe side for its use:

- ``upper``: the UTF-8 byte count. Every token covers at least one byte, so this is
  never below the true count; splitting requests by it can never exceed the API's
  per-request budget (it only makes more, smaller requests).
- ``lower``: a quarter of the byte count — about what English averages, and less than
  nearly any natural text yields; a chunk is refused before sending only when even this
  estimate is over the per-input limit, so no valid chunk is refused.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

#: Bytes per token assumed by the optimistic estimate (English averages about four).
_OPTIMISTIC_BYTES_PER_TOKEN = 4


@dataclass(frozen=True)
class TokenCounter:
    """Upper and lower token estimates for a text; equal when ``exact``."""

    encoding: Any = None

    @property
    def exact(self) -> bool:
        return self.encoding is not None

    def upper(self, text: str) -> int:
        if self.encoding is not None:
            return self._count(text)
        return len(text.encode("utf-8"))

    def lower(self, text: str) -> int:
        if self.encoding is not None:
            return self._count(text)
        return len(text.encode("utf-8")) // _OPTIMISTIC_BYTES_PER_TOKEN

    def _count(self, text: str) -> int:
        # Text that looks like a special token is embedded as plain text by the API.
        return len(self.encoding.encode(text, disallowed_special=()))


@lru_cache(maxsize=1)
def token_counter() -> TokenCounter:
    """The exact counter if ``bpe_openai`` is importable and works, else the estimates."""
    try:
        module = importlib.import_module("bpe_openai")
        encoding = module.get_encoding("cl100k_base")
        encoding.encode("probe", disallowed_special=())
    except Exception:  # not installed, or unusable: estimates are safe, only coarser
        return TokenCounter()
    return TokenCounter(encoding)
