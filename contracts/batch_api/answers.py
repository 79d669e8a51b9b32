"""The generated answer of each request, traceable to its line by ``custom_id``.

- chat completions: a ``chat.completion`` whose ``choices[0].message.content`` is
  ``"answer to " + custom_id``, or ``{"custom_id": …}`` as a JSON string when the
  request asked for a ``json_object`` / ``json_schema`` response format;
- embeddings: one vector per input, from ``embedding_for(custom_id, index, dimensions)``
  (floats, or base64 of little-endian float32 when ``encoding_format`` is base64);
- responses: a completed ``response`` with one output message of that text.

Failed requests get an error body in the wire's error shape.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import uuid
from typing import Any

from batch_api.files import BatchRequest

DEFAULT_DIMENSIONS = 8

_ERRORS = {
    400: ("invalid_request_error", "invalid_request", "The request was invalid."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", "server_error", "The server had an error processing your request."),
}


def text_for(request: BatchRequest) -> str:
    """The text a chat completion or response answers ``request`` with."""
    if request.structured:
        return json.dumps({"custom_id": request.custom_id})
    return "answer to " + request.custom_id


def embedding_for(custom_id: str, index: int, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """The vector of input ``index`` of request ``custom_id``: fixed, so tests can check it."""
    words = hashlib.shake_128(f"{custom_id}\0{index}".encode()).digest(4 * dimensions)
    # Rounded through float32, so the float and base64 forms carry the same numbers.
    scaled = [w / 0xFFFFFFFF * 2 - 1 for w in struct.unpack(f"<{dimensions}I", words)]
    return list(struct.unpack(f"<{dimensions}f", struct.pack(f"<{dimensions}f", *scaled)))


def success_body(url: str, request: BatchRequest, model: str, created: int) -> dict[str, Any]:
    """The response body of a request that succeeded."""
    if url.endswith("/embeddings"):
        return _embeddings(request, model)
    if url.endswith("/responses"):
        return _response(request, model, created)
    return _chat_completion(request, model, created)


def error_body(status: int) -> dict[str, Any]:
    """The response body of a request that failed with HTTP ``status``."""
    kind, code, message = _ERRORS.get(status, _ERRORS[500] if status >= 500 else _ERRORS[400])
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _tokens(request: BatchRequest) -> int:
    return max(1, request.size // 4)


def _chat_completion(request: BatchRequest, model: str, created: int) -> dict[str, Any]:
    content = text_for(request)
    prompt, completion = _tokens(request), max(1, len(content) // 4)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
        "system_fingerprint": "fp_batch_api",
    }


def _embeddings(request: BatchRequest, model: str) -> dict[str, Any]:
    dimensions = request.dimensions or DEFAULT_DIMENSIONS
    data = []
    for index in range(request.inputs):
        vector = embedding_for(request.custom_id, index, dimensions)
        encoded: list[float] | str = (
            base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            if request.base64
            else vector
        )
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = _tokens(request)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _response(request: BatchRequest, model: str, created: int) -> dict[str, Any]:
    text = text_for(request)
    prompt, completion = _tokens(request), max(1, len(text) // 4)
    return {
        "id": f"resp_{uuid.uuid4().hex}",
        "object": "response",
        "created_at": created,
        "status": "completed",
        "completed_at": created,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "model": model,
        "output": [
            {
                "type": "message",
                "id": f"msg_{uuid.uuid4().hex}",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
                ],
            }
        ],
        "output_text": text,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "temperature": 1.0,
        "top_p": 1.0,
        "metadata": {},
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion,
        },
    }
