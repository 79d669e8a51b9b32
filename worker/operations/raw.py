"""``raw_request``: any call below the configuration's endpoint, with the worker's auth.

The path is relative to what the configuration calls (OpenAI: the endpoint, such as
``https://api.openai.com/v1``; Azure: the deployment, with ``api-version`` added). An
error status fails the job as a ``provider`` error with the provider's message and
status code, as every other operation does; ``retry.retry_on_all_errors`` makes 4xx
answers retry too. The payload's ``retry`` options replace the worker's retry policy
for this job.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import marshmallow

from schemas.raw import RetryOptionsSchema
from worker.catalog import CATALOG
from worker.errors import ProviderError, ValidationError
from worker.operations.base import JobContext, Operation, Outcome
from worker.retries import ConnectorRetryPolicy, RetryPolicy
from worker.transport import HttpResponse


def retry_policy(payload: Any, default: RetryPolicy) -> RetryPolicy:
    """The payload's ``retry`` options as a policy; the worker's default without them."""
    raw = payload.get("retry") if isinstance(payload, dict) else None
    if raw is None:
        return default
    try:
        options = RetryOptionsSchema().load(raw)
    except marshmallow.ValidationError:
        return default
    return ConnectorRetryPolicy.from_options(
        max_retries=options["max_retries"],
        delay_ms=options["delay_ms"],
        exponential=options["exponential_backoff"],
        default=default,
    )


def _check_target(ctx: JobContext, path: str) -> None:
    """The URL built from ``path`` must stay on the configuration's host and base path."""
    base = urlsplit(ctx.client.provider.base_url)
    target = urlsplit(ctx.client.provider.url(path))
    base_path = base.path.rstrip("/") + "/"
    if (target.scheme, target.netloc) != (base.scheme, base.netloc) or not (
        target.path + "/"
    ).startswith(base_path):
        raise ValidationError("path must stay below the configuration's endpoint")


def _body(payload: dict[str, Any]) -> dict[str, Any]:
    """The ``send`` arguments for a JSON body or a multipart form."""
    if payload.get("json") is not None:
        return {"json_body": payload["json"]}
    files = [
        (
            item["field"],
            (item["filename"], base64.b64decode(item["content_base64"]), item["content_type"]),
        )
        for item in payload.get("files") or []
    ]
    if files:
        return {"data": payload.get("form") or {}, "files": files}
    if payload.get("form"):
        return {"data": payload["form"]}
    return {}


def _output_body(response: HttpResponse, response_type: str) -> Any:
    """The body as the output carries it (the record's redactor cleans every form)."""
    if response_type == "binary":
        return base64.b64encode(response.content).decode("ascii")
    if response_type == "text":
        return response.text
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ProviderError(
            "the answer is not JSON; ask for response_type text or binary",
            status_code=response.status_code,
        ) from None


def raw_request(ctx: JobContext, payload: dict[str, Any]) -> Outcome:
    """Send the request as described; status, headers and body come back."""
    _check_target(ctx, payload["path"])
    return Outcome(ctx.calls.answer("call", lambda: _send(ctx, payload)))


def _send(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    headers = dict(payload.get("headers") or {})
    if payload["response_type"] != "json" and not any(k.lower() == "accept" for k in headers):
        headers["Accept"] = "*/*"
    retry = payload.get("retry") or {}
    try:
        response = ctx.client.send(
            payload["method"],
            payload["path"],
            headers=headers,
            params=payload.get("query"),
            timeout_s=payload.get("timeout_s"),
            **_body(payload),
        )
    except ProviderError as exc:
        if retry.get("retry_on_all_errors"):
            exc.retryable = True
        raise
    return {
        "status_code": response.status_code,
        "headers": dict(response.headers.items()),
        "body": _output_body(response, payload["response_type"]),
    }


OPERATIONS = [Operation(CATALOG["raw_request"], raw_request, retry_policy=retry_policy)]
