"""The three URL layouts of the Files and Batches API, their ids, and wire errors.

The request URLs a batch's lines may name differ by layout. OpenAI's spec lists
``/v1/responses``, ``/v1/chat/completions`` and ``/v1/embeddings`` (among others we do
not answer). Microsoft's batch how-to shows ``"url": "/chat/completions"`` in the lines
for the dated API (``/openai/batches?api-version=…``) and ``"/v1/chat/completions"`` /
``"/v1/responses"`` for the v1 API, whose create-batch example still sends
``"endpoint": "/chat/completions"``; Microsoft's v1 REST reference lists the ``/v1/…``
endpoint values. So the v1 layout takes either spelling, and a batch's ``endpoint`` is
matched against its lines after dropping a leading ``/v1``.

Embeddings are accepted in both Azure layouts, although the how-to's FAQ (August 2025)
still says batch does not support embeddings models; the v1 REST reference lists them.
"""

from __future__ import annotations

import enum
import secrets
import time
import uuid
from typing import Any


class Layout(enum.Enum):
    """Where the API lives: OpenAI's ``/v1``, Azure's dated ``/openai``, Azure's ``/openai/v1``."""

    OPENAI = "openai"
    AZURE_DATED = "azure_dated"
    AZURE_V1 = "azure_v1"

    @property
    def is_azure(self) -> bool:
        return self is not Layout.OPENAI

    @property
    def line_urls(self) -> frozenset[str]:
        """The ``url`` values a line of an input file may have."""
        return _LINE_URLS[self]

    def new_file_id(self) -> str:
        # OpenAI's ids are short and opaque; Azure's are a hex UUID (its docs' examples).
        return f"file-{uuid.uuid4().hex}" if self.is_azure else f"file-{secrets.token_hex(12)}"

    def new_batch_id(self) -> str:
        return f"batch_{uuid.uuid4()}" if self.is_azure else f"batch_{secrets.token_hex(16)}"


_OPENAI_URLS = frozenset({"/v1/chat/completions", "/v1/embeddings", "/v1/responses"})
_AZURE_URLS = frozenset({"/chat/completions", "/embeddings"})
_LINE_URLS = {
    Layout.OPENAI: _OPENAI_URLS,
    Layout.AZURE_DATED: _AZURE_URLS,
    Layout.AZURE_V1: _OPENAI_URLS | _AZURE_URLS | {"/responses"},
}


def operation(url: str) -> str:
    """The operation a line's url or a batch's endpoint names: ``/v1`` dropped."""
    return url.removeprefix("/v1")


def now() -> int:
    return int(time.time())


class ApiError(Exception):
    """A refusal, answered as ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param

    def body(self) -> dict[str, Any]:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {
            "error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}
        }


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(404, f"No such {kind}: '{ident}'", code="not_found")
