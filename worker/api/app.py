"""The HTTP job API as a Starlette (ASGI) application over the producers' client.

Routes: ``POST /v1/jobs``, ``GET /v1/jobs/{id}`` (``?wait=`` long-polls),
``POST /v1/jobs/{id}/retry``, ``GET /v1/operations``, ``GET /healthz`` and
``GET /openapi.json``; ``openapi`` documents each with every status it answers.
ASGI because a long-poll holds its request for up to a minute: here it waits on the
event loop, so a thousand waiting callers cost a thousand small coroutines, not a
thousand threads. ``guard`` checks every request's host name and token first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any

import redis
import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from schemas import to_json_schema
from worker.api.guard import Guard
from worker.api.job_request import parse, read_body, refused
from worker.api.openapi import ENVELOPE_BYTES, MAX_WAIT_S, openapi_document
from worker.api.problems import Problem, http_problem, problem_response
from worker.async_client import AsyncClient
from worker.catalog import CATALOG
from worker.client import Client
from worker.errors import ValidationError
from worker.results import FINAL_STATUSES
from worker.settings import Settings

log = structlog.get_logger("worker.api")


class JobApi:
    """What the routes share: the asyncio client (submit, read, wait) and its Redis
    client (tokens, health); the synchronous client for ``retry`` alone."""

    def __init__(self, settings: Settings, url: str) -> None:
        self.settings = settings
        self.producer = AsyncClient(settings, url=url)
        self.redis = self.producer.redis
        self.keys = self.producer.keys
        # ``AsyncClient`` has no retry: the synchronous one runs it on the thread pool
        # (an operator's action, rare beside submissions and waits).
        self.client = Client(settings, url=url)
        self.body_limit = settings.max_payload_bytes + ENVELOPE_BYTES
        # The two documents never change while the process runs: encoded once.
        self.openapi = _encoded(openapi_document())
        operations = {
            "operations": [
                {
                    "name": name,
                    "description": spec.description,
                    "batchable": spec.not_batchable is None,
                    "payload_schema": to_json_schema(spec.schema, title=name),
                }
                for name, spec in CATALOG.items()
            ]
        }
        self.operations = _encoded(operations)

    async def close(self) -> None:
        await self.producer.aclose()
        await run_in_threadpool(self.client.close)


def _encoded(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _api(request: Request) -> JobApi:
    api: JobApi = request.app.state.api
    return api


def _accepted(job_id: str, status: str) -> JSONResponse:
    link = f"/v1/jobs/{job_id}"
    body = {"id": job_id, "status": status, "links": {"self": link}}
    return JSONResponse(body, 202, headers={"Location": link})


async def submit_job(request: Request) -> Response:
    api = _api(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        # Also what keeps a web page's form from posting jobs: a browser sends
        # application/json across sites only after a CORS preflight, which fails here.
        raise Problem("unsupported-media-type", f"got {media_type or 'no content type'!r}")
    body = await read_body(request.stream(), request.headers.get("content-length"), api.body_limit)
    submission = parse(body)
    try:
        job_id = await api.producer.submit(
            submission.operation,
            submission.payload,
            tier=submission.tier,
            on_expiry=submission.on_expiry,
        )
    except ValidationError as exc:
        raise refused(exc, submission) from None
    status = "queued"
    if "idempotency_key" in submission.payload:
        # A repeated key names the first job, which may have moved on.
        record = await api.producer.result(job_id)
        status = record["status"] if record else status
    log.info("api.job_submitted", job_id=job_id, operation=submission.operation)
    return _accepted(job_id, status)


def _wait_s(text: str | None) -> float:
    if text is None:
        return 0.0
    try:
        wait_s = float(text)
    except ValueError:
        wait_s = math.nan
    if not 0 <= wait_s <= MAX_WAIT_S:  # NaN fails too
        detail = f"Must be a number of seconds from 0 to {MAX_WAIT_S:g}."
        errors = [{"parameter": "wait", "detail": detail}]
        raise Problem("validation", f"wait={text!r} is refused", errors=errors)
    return wait_s


async def get_job(request: Request) -> Response:
    api = _api(request)
    job_id = request.path_params["job_id"]
    wait_s = _wait_s(request.query_params.get("wait"))
    record = await api.producer.result(job_id)
    if record is None:
        raise Problem("job-not-found", f"no job {job_id!r} (unknown, or expired)")
    if wait_s and record["status"] not in FINAL_STATUSES:
        # Blocks on the job's ended channel (one subscriber connection for all waits).
        record = await _unless_gone(request, api.producer.wait(job_id, wait_s)) or record
    return JSONResponse(record)


async def _unless_gone(request: Request, waiting: Awaitable[Any]) -> Any:
    """What ``waiting`` gives, or None as soon as the caller hangs up (the wait is
    cancelled: a long-poll nobody reads holds nothing)."""
    task = asyncio.ensure_future(waiting)
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not task.done():
            task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        return await task if task.done() and not task.cancelled() else None
    return None


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def retry_job(request: Request) -> Response:
    api = _api(request)
    job_id = request.path_params["job_id"]
    if await api.producer.result(job_id) is None:
        raise Problem("job-not-found", f"no job {job_id!r} (unknown, or expired)")
    try:
        await run_in_threadpool(api.client.retry, job_id)
    except ValidationError as exc:
        raise Problem("not-retryable", exc.message) from None
    log.info("api.job_retried", job_id=job_id)
    return _accepted(job_id, "queued")


async def list_operations(request: Request) -> Response:
    return Response(_api(request).operations, media_type="application/json")


async def health(request: Request) -> Response:
    try:
        await _api(request).redis.ping()
    except (redis.RedisError, OSError) as exc:
        raise Problem("unavailable", f"Redis did not answer: {type(exc).__name__}") from None
    return JSONResponse({"status": "ok"})


async def openapi(request: Request) -> Response:
    return Response(_api(request).openapi, media_type="application/json")


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return exc.response(request.url.path)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    return problem_response(http_problem(exc.status_code), exc.status_code, headers)


async def _internal(request: Request, exc: Exception) -> Response:
    log.error("api.internal_error", path=request.url.path, error=type(exc).__name__)
    return Problem("internal", "the request could not be completed").response(request.url.path)


ROUTES = [
    Route("/v1/jobs", submit_job, methods=["POST"]),
    Route("/v1/jobs/{job_id}", get_job, methods=["GET"]),
    Route("/v1/jobs/{job_id}/retry", retry_job, methods=["POST"]),
    Route("/v1/operations", list_operations, methods=["GET"]),
    Route("/healthz", health, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]


def create_app(
    settings: Settings,
    url: str,
    *,
    allowed_hosts: Iterable[str] | None = ("localhost",),
    loopback: bool = True,
) -> Starlette:
    """The API for the deployment at ``url``, answering to ``allowed_hosts`` (None: any).

    ``loopback`` (the server binds loopback only): requests need no token while the
    store holds none. Beyond loopback a token is always required.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        api = JobApi(settings, url)
        app.state.api = api
        try:
            yield
        finally:
            await api.close()

    hosts = None if allowed_hosts is None else frozenset(h.lower() for h in allowed_hosts)
    return Starlette(
        routes=ROUTES,
        middleware=[Middleware(Guard, allowed_hosts=hosts, loopback=loopback)],
        exception_handlers={
            Problem: _problem,
            HTTPException: _http_error,
            Exception: _internal,
        },
        lifespan=lifespan,
    )
