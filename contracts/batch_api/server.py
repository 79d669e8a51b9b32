"""The HTTP server: three URL layouts over the same handlers, auth, and a request log.

- OpenAI: ``/v1/files…``, ``/v1/batches…``; ``Authorization: Bearer KEY``.
- Azure, dated: ``/openai/files…``, ``/openai/batches…`` with a required ``api-version``
  query parameter; ``api-key: KEY``, or ``Authorization: Bearer`` with the key or an
  Entra token. An upload answers 201 with a ``Location``, as that API's spec says.
- Azure, v1: ``/openai/v1/files…``, ``/openai/v1/batches…``; no ``api-version``.

The same handlers answer every layout; only auth, the lines' urls and a few answer
details (the upload's status code, an Azure batch's empty error file) differ.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from batch_api.answers import success_body
from batch_api.files import (
    DEFAULT_BATCH_FILE_TTL,
    BatchRequest,
    FileStore,
    StoredFile,
    read_lines,
    scan_input,
)
from batch_api.httpd import Body, Reply, Server
from batch_api.lifecycle import Batch
from batch_api.multipart import MultipartError, boundary_of, read_form
from batch_api.wire import ApiError, Layout, not_found, now, operation

DEFAULT_API_KEY = "sk-batch-api-test-0123456789abcdef"
AUTH_HEADERS = frozenset({"authorization", "api-key"})

#: Which requests fail, and with which HTTP status: a function of the ``custom_id``
#: (``None`` for success), or a collection of ``custom_id``s that fail with 500.
FailRule = Callable[[str], int | None] | Collection[str] | None

_ROUTE = re.compile(
    r"^(?P<prefix>/v1|/openai/v1|/openai)/(?P<kind>files|batches)"
    r"(?:/(?P<ident>[^/]+)(?:/(?P<action>content|cancel))?)?/?$"
)
#: The standard tier's chat path in each layout: answered at once (a job whose batch
#: expired sends the rest this way), with the text ``"standard answer"``.
_STANDARD_CHAT = re.compile(r"^(/v1|/openai/v1|/openai/deployments/[^/]+)/chat/completions$")
_LAYOUTS = {"/v1": Layout.OPENAI, "/openai/v1": Layout.AZURE_V1, "/openai": Layout.AZURE_DATED}


@dataclass(frozen=True)
class RequestRecord:
    """One request the server received; auth header values are left out."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased, without Authorization and api-key
    auth_present: bool
    content_type: str | None
    body_length: int


class BatchApi:
    """The server's state and scripting: files, batches, faults, the request log.

    The fault attributes (``fail_custom_ids``, ``validation_fails``, ``expire_after``,
    ``polls_per_step``, ``shuffle_output``) may be changed while the server runs; each is
    read when it applies (see ``lifecycle``).
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        entra_token: str | None = None,
        polls_per_step: int = 1,
        fail_custom_ids: FailRule = None,
        validation_fails: bool = False,
        expire_after: int | None = None,
        shuffle_output: bool = False,
        file_processing_polls: int = 0,
    ) -> None:
        self.api_key = api_key
        self.entra_token = entra_token
        self.polls_per_step = polls_per_step
        self.fail_custom_ids = fail_custom_ids
        self.validation_fails = validation_fails
        self.expire_after = expire_after
        self.shuffle_output = shuffle_output
        self.file_processing_polls = file_processing_polls
        self.files_uploaded = 0
        self.batches_created = 0
        #: Called with (method, path) once a request's answer is ready, before it is
        #: sent: a test may block here (hold an answer while it kills a worker).
        self.before_answer: Callable[[str, str], None] | None = None
        self._root = Path(tempfile.mkdtemp(prefix="batch-api-"))
        self._files = FileStore(self._root)
        self._batches: dict[str, Batch] = {}
        self._log: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._http = Server(self)
        # A short poll interval: shutdown() waits for the serve loop's next check.
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(0.05,), name="batch-api", daemon=True
        )
        self._thread.start()

    # --- what tests read ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: Azure's resource endpoint."""
        return self._http.url

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def input_lines(self, batch_id: str) -> list[dict[str, Any]]:
        """The lines of a batch's input file, parsed (the file must not be deleted)."""
        batch = self._batch(batch_id)
        return list(read_lines(self._files.get(batch.input_file_id).path))

    def failure_status(self, custom_id: str) -> int | None:
        rule = self.fail_custom_ids
        if rule is None:
            return None
        if callable(rule):
            return rule(custom_id)
        return 500 if custom_id in rule else None

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=10)
        shutil.rmtree(self._root, ignore_errors=True)

    # --- files ------------------------------------------------------------------------

    def upload(self, layout: Layout, content_type: str | None, body: Body) -> Reply:
        try:
            boundary = boundary_of(content_type)
            form = read_form(body, body.length, boundary, self._root, frozenset({"file"}))
        except MultipartError as error:
            raise ApiError(400, f"Invalid multipart body: {error}") from None
        try:
            purpose, part = form.fields.get("purpose"), form.files.get("file")
            if purpose is None or part is None:
                missing = "purpose" if purpose is None else "file"
                raise ApiError(400, f"Missing required parameter: {missing!r}", param=missing)
            if purpose != "batch":
                raise ApiError(400, f"purpose must be 'batch', not {purpose!r}", param="purpose")
            inputs = scan_input(part.path, layout)
        except ApiError:
            form.discard()
            raise
        created = now()
        pending = self.file_processing_polls
        stored = self._files.add(
            StoredFile(
                id=layout.new_file_id(),
                filename=part.filename or "upload.jsonl",
                purpose=purpose,
                path=part.path,
                size=part.size,
                created_at=created,
                expires_at=_expiry(form.fields, layout, created),
                status="pending" if pending > 0 else "processed",
                polls_until_processed=pending,
                inputs=inputs,
            )
        )
        with self._lock:
            self.files_uploaded += 1
        if layout is Layout.AZURE_DATED:
            location = f"{self.url}/openai/files/{stored.id}"
            return Reply(201, stored.wire(), headers={"Location": location})
        return Reply(200, stored.wire())

    def list_files(self, query: dict[str, str]) -> Reply:
        files = self._files.listing(query.get("purpose"))
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(400, "order must be 'asc' or 'desc'", param="order")
        if order == "desc":
            files.reverse()
        page, more = _page(files, query, default=10000, most=10000)
        return Reply(200, _listing([f.wire() for f in page], more))

    def retrieve_file(self, file_id: str) -> Reply:
        return Reply(200, self._files.poll(file_id).wire())

    def file_content(self, file_id: str) -> Reply:
        return Reply(200, file=self._files.get(file_id).path)

    def delete_file(self, file_id: str) -> Reply:
        stored = self._files.delete(file_id)
        return Reply(200, {"id": stored.id, "object": "file", "deleted": True})

    # --- batches ----------------------------------------------------------------------

    def create_batch(self, layout: Layout, request: dict[str, Any]) -> Reply:
        file_id, endpoint = request.get("input_file_id"), request.get("endpoint")
        if not isinstance(file_id, str) or not file_id:
            raise ApiError(400, "input_file_id is required", param="input_file_id")
        if not isinstance(endpoint, str) or endpoint not in layout.line_urls:
            allowed = ", ".join(sorted(layout.line_urls))
            raise ApiError(400, f"endpoint must be one of {allowed}", param="endpoint")
        if request.get("completion_window") != "24h":
            raise ApiError(400, "completion_window must be '24h'", param="completion_window")
        metadata = _metadata(request.get("metadata"))
        stored = self._files.get(file_id)
        if stored.purpose != "batch" or stored.inputs is None:
            raise ApiError(400, "The input file must have purpose 'batch'", param="input_file_id")
        if stored.status != "processed":
            raise ApiError(400, "The input file is not processed yet", param="input_file_id")
        if operation(endpoint) != operation(stored.inputs.url):
            raise ApiError(
                400,
                f"endpoint {endpoint!r} does not match the input file's url {stored.inputs.url!r}",
                code="url_mismatch",
                param="endpoint",
            )
        batch = Batch(
            layout=layout,
            endpoint=endpoint,
            input_file_id=file_id,
            inputs=stored.inputs,
            metadata=metadata,
            script=self,
            files=self._files,
        )
        with self._lock:
            self._batches[batch.id] = batch
            self.batches_created += 1
        return Reply(200, batch.wire())

    def list_batches(self, query: dict[str, str]) -> Reply:
        with self._lock:
            newest_first = list(reversed(self._batches.values()))
        page, more = _page(newest_first, query, default=20, most=100)
        return Reply(200, _listing([b.wire() for b in page], more))

    def retrieve_batch(self, batch_id: str) -> Reply:
        return Reply(200, self._batch(batch_id).poll())

    def cancel_batch(self, batch_id: str) -> Reply:
        return Reply(200, self._batch(batch_id).cancel())

    def _batch(self, batch_id: str) -> Batch:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            raise not_found("batch", batch_id)
        return batch

    # --- HTTP -------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: Body) -> Reply:
        """Route one request; refusals come back as ``ApiError``."""
        split = urlsplit(target)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        self._record(method, split.path, query, headers, body.length)
        standard = _STANDARD_CHAT.match(split.path)
        if standard is not None and method == "POST":
            request = BatchRequest(custom_id="standard")
            answer = success_body("/chat/completions", request, "gpt-4o-mini", now())
            answer["choices"][0]["message"]["content"] = "standard answer"
            return Reply(200, answer)
        route = _ROUTE.match(split.path)
        if route is None:
            raise ApiError(404, f"Unknown path {split.path!r}", code="not_found")
        layout = _LAYOUTS[route["prefix"]]
        if layout is Layout.AZURE_DATED and not query.get("api-version"):
            raise ApiError(400, "The api-version query parameter is required", code="BadRequest")
        self._authenticate(layout, headers)
        return self._dispatch(
            layout, method, route["kind"], route["ident"], route["action"], query, headers, body
        )

    def _dispatch(
        self,
        layout: Layout,
        method: str,
        kind: str,
        ident: str | None,
        action: str | None,
        query: dict[str, str],
        headers: dict[str, str],
        body: Body,
    ) -> Reply:
        match kind, ident, action, method:
            case "files", None, None, "GET":
                return self.list_files(query)
            case "files", None, None, "POST":
                return self.upload(layout, headers.get("content-type"), body)
            case "files", str(file_id), None, "GET":
                return self.retrieve_file(file_id)
            case "files", str(file_id), None, "DELETE":
                return self.delete_file(file_id)
            case "files", str(file_id), "content", "GET":
                return self.file_content(file_id)
            case "batches", None, None, "GET":
                return self.list_batches(query)
            case "batches", None, None, "POST":
                return self.create_batch(layout, body.json())
            case "batches", str(batch_id), None, "GET":
                return self.retrieve_batch(batch_id)
            case "batches", str(batch_id), "cancel", "POST":
                return self.cancel_batch(batch_id)
        raise ApiError(405, f"{method} is not allowed on this path")

    def _authenticate(self, layout: Layout, headers: dict[str, str]) -> None:
        bearer = headers.get("authorization", "")
        token = bearer[len("Bearer ") :] if bearer.startswith("Bearer ") else None
        if layout.is_azure:
            accepted = headers.get("api-key") == self.api_key or (
                token is not None and token in (self.api_key, self.entra_token)
            )
            code, message = "401", "Access denied due to invalid subscription key or token."
        else:
            accepted = token == self.api_key
            code, message = "invalid_api_key", "Incorrect API key provided."
        if not accepted:
            raise ApiError(401, message, code=code)

    def _record(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], size: int
    ) -> None:
        record = RequestRecord(
            method=method,
            path=path,
            query=query,
            headers={k: v for k, v in headers.items() if k not in AUTH_HEADERS},
            auth_present=any(k in headers for k in AUTH_HEADERS),
            content_type=headers.get("content-type"),
            body_length=size,
        )
        with self._lock:
            self._log.append(record)


@contextmanager
def serve_batch_api(**options: Any) -> Iterator[BatchApi]:
    """A ``BatchApi`` on 127.0.0.1 (a free port) for the ``with`` block."""
    api = BatchApi(**options)
    try:
        yield api
    finally:
        api.close()


# --- helpers ----------------------------------------------------------------------------


def _page(
    items: list[Any], query: dict[str, str], *, default: int, most: int
) -> tuple[list[Any], bool]:
    """One page after the ``after`` cursor, at most ``limit`` long; and whether more follow."""
    try:
        limit = int(query.get("limit", default))
    except ValueError:
        raise ApiError(400, "limit must be an integer", param="limit") from None
    if not 1 <= limit <= most:
        raise ApiError(400, f"limit must be between 1 and {most}", param="limit")
    after = query.get("after")
    if after:
        ids = [item.id for item in items]
        if after not in ids:
            raise ApiError(400, f"No object {after!r} to list after", param="after")
        items = items[ids.index(after) + 1 :]
    return items[:limit], len(items) > limit


def _listing(data: list[dict[str, Any]], more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": more,
    }


def _metadata(given: object) -> dict[str, str] | None:
    """Metadata as the spec allows it: up to 16 pairs, keys ≤ 64 and values ≤ 512 chars."""
    if given is None:
        return None
    if not isinstance(given, dict) or len(given) > 16:
        raise ApiError(400, "metadata must be an object of at most 16 pairs", param="metadata")
    for key, value in given.items():
        if not isinstance(value, str) or len(key) > 64 or len(value) > 512:
            raise ApiError(
                400,
                "metadata keys are at most 64 characters and values strings of at most 512",
                param="metadata",
            )
    return dict(given)


def _expiry(fields: dict[str, str], layout: Layout, created: int) -> int | None:
    """When an upload expires: its ``expires_after`` (either spelling) or the default.

    OpenAI's batch files expire after 30 days; Microsoft's docs have Azure files kept
    until deleted unless ``expires_after`` is sent.
    """
    seconds = fields.get("expires_after[seconds]") or fields.get("expires_after.seconds")
    if seconds is None:
        return None if layout.is_azure else created + DEFAULT_BATCH_FILE_TTL
    if not seconds.isdigit():
        raise ApiError(400, "expires_after seconds must be an integer", param="expires_after")
    return created + int(seconds)
