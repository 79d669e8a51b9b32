"""One pooled ``requests`` session per process, with timeouts and no redirects.

Redirects are refused because ``requests`` strips ``Authorization`` on a cross-host
redirect but not Azure's ``api-key``; a provider never redirects an API call anyway.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.util.retry import Retry

from worker.errors import ConfigurationError, TransportError
from worker.retries import CONNECT_RETRY
from worker.transport import direct
from worker.transport.direct import DirectPools
from worker.transport.download import Download, fetch
from worker.turns import TURNS

#: Connections kept per host, at least: a process with more worker threads keeps one per
#: thread (``HttpClient(pool_size=…)``), as a thread finding the pool full would open a
#: connection for its call and close it after, a new TCP (and TLS) handshake each time.
POOL_SIZE = 64


@dataclass(frozen=True)
class HttpResponse:
    """What came back: status, headers (case-insensitive) and the raw body."""

    status_code: int
    headers: CaseInsensitiveDict[str]
    content: bytes

    def json(self) -> Any:
        """The body parsed as JSON; ``ValueError`` if it is not JSON."""
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def _connect_only_retry() -> Retry:
    """``retries.CONNECT_RETRY`` in urllib3's terms: connection failures only."""
    return Retry(
        total=CONNECT_RETRY.attempts,
        connect=CONNECT_RETRY.attempts,
        read=False,  # raise read errors as they are: a timeout must read as a timeout
        status=0,
        other=False,
        redirect=0,
        allowed_methods=None,
        backoff_factor=CONNECT_RETRY.backoff_factor_s,
        raise_on_status=False,
    )


class _Session(requests.Session):
    """A session that reads the environment's proxy and CA settings once per host.

    With ``trust_env`` requests walks the whole environment (proxies, ``NO_PROXY``, CA
    bundles) for every request, which was the largest CPU cost of a chat job; a worker's
    environment does not change while it runs, so the answer is kept per scheme and host.
    """

    MAX_HOSTS = 256

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, str], Any] = {}

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        if proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._environment:
            if len(self._environment) >= self.MAX_HOSTS:
                self._environment.clear()
            self._environment[key] = super().merge_environment_settings(url, {}, None, None, None)
        settings = self._environment[key]
        return {**settings, "proxies": dict(settings["proxies"])}


class HttpClient:
    """Sends requests through one pooled session, shared by all threads of a process."""

    def __init__(
        self, *, timeout_s: float, connect_timeout_s: float, pool_size: int = POOL_SIZE
    ) -> None:
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.pool_size = max(POOL_SIZE, pool_size)
        self._session: requests.Session | None = None
        self._direct: DirectPools | None = None
        self._timeouts: dict[tuple[float, float], urllib3.Timeout] = {}
        self._lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    session = _Session()
                    adapter = HTTPAdapter(
                        pool_connections=8,
                        pool_maxsize=self.pool_size,
                        max_retries=_connect_only_retry(),
                    )
                    session.mount("https://", adapter)
                    session.mount("http://", adapter)
                    session.trust_env = True
                    self._session = session
        return self._session

    @property
    def direct(self) -> DirectPools:
        """The urllib3 pools provider calls go through (``transport.direct``)."""
        if self._direct is None:
            session = self.session
            with self._lock:
                if self._direct is None:
                    self._direct = DirectPools(
                        session, pool_size=self.pool_size, retries=_connect_only_retry()
                    )
        return self._direct

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        json_body: Any = None,
        data: Any = None,
        files: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> HttpResponse:
        """Send one request; raise ``TransportError`` (retryable) when no answer arrives.

        When the request may have reached the provider (it was sent, but no answer came
        back), the error's details say ``may_have_been_billed``.
        """
        timeout = (self.connect_timeout_s, timeout_s or self.timeout_s)
        with _translated_errors(url, timeout), TURNS.away():
            if files is None and (data is None or isinstance(data, bytes)):
                route = self.direct.route(url, params)
                if route is not None:
                    answer = direct.send(
                        route,
                        method,
                        self.direct.headers(headers),
                        json_body,
                        data,
                        self._timeout(timeout),
                    )
                    return HttpResponse(
                        answer.status, CaseInsensitiveDict(answer.headers), answer.data
                    )
            response = self._send(method, url, timeout, headers, json_body, data, files, params)
            content = response.content
        return HttpResponse(response.status_code, response.headers, content)

    def _timeout(self, timeout: tuple[float, float]) -> urllib3.Timeout:
        found = self._timeouts.get(timeout)
        if found is None:
            found = self._timeouts[timeout] = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        return found

    @contextlib.contextmanager
    def stream_lines(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> Iterator[StreamedLines]:
        """Send a request whose answer is read line by line (a batch's output file):
        memory holds one chunk, not the file. An error answer is read whole."""
        timeout = (self.connect_timeout_s, timeout_s or self.timeout_s)
        with _translated_errors(url, timeout), TURNS.away():
            response = self._send(method, url, timeout, headers, None, None, None, params, True)
        try:
            if response.status_code >= 300:
                with _translated_errors(url, timeout):
                    content = response.content
                yield StreamedLines(response.status_code, response.headers, content, iter(()))
                return
            lines = _lines(response, url, timeout)
            yield StreamedLines(response.status_code, response.headers, b"", lines)
        finally:
            response.close()

    def _send(
        self,
        method: str,
        url: str,
        timeout: tuple[float, float],
        headers: Mapping[str, str],
        json_body: Any,
        data: Any,
        files: Any,
        params: Mapping[str, Any] | None,
        stream: bool = False,
    ) -> requests.Response:
        session = self.session
        # A prepared request sent through the session (requests' documented lower-level
        # path): the session's default headers and hooks, but none of its per-call merging
        # of cookies, auth and settings, and no ~/.netrc lookup, which could replace the
        # request's own auth header. The environment's proxy and CA settings are read once
        # per host (``_Session``). Prepared directly rather than through ``Request``, which
        # turns absent params and data into empty dicts that requests then encodes (with
        # ``typing.Protocol`` checks) on every call.
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=method,
            url=url,
            headers={**session.headers, **headers},
            json=json_body,
            data=data,
            files=files,
            params=params,
            hooks=session.hooks,
        )
        settings = session.merge_environment_settings(url, {}, None, None, None)
        settings["stream"] = stream
        return session.send(prepared, timeout=timeout, allow_redirects=False, **settings)

    def download(
        self, url: str, *, endpoint: str, max_bytes: int, deadline_s: float, accept: str
    ) -> Download:
        """Fetch a URL an answer named, by the rules of ``transport.download``."""
        return fetch(
            url,
            endpoint=endpoint,
            max_bytes=max_bytes,
            deadline_s=deadline_s,
            connect_timeout_s=self.connect_timeout_s,
            accept=accept,
        )

    def close(self) -> None:
        if self._direct is not None:
            self._direct.close()
            self._direct = None
        if self._session is not None:
            self._session.close()
            self._session = None


@contextlib.contextmanager
def _translated_errors(url: str, timeout: tuple[float, float]) -> Iterator[None]:
    """What ``requests`` raises, as the worker's errors (never quoting a header value)."""
    try:
        yield
    except requests.exceptions.InvalidHeader:
        # Its message quotes the header value, which may be the key: never pass it on.
        raise ConfigurationError(
            f"a header of the request to {_host(url)} cannot be sent (a value with "
            "spaces or characters HTTP does not allow); check the configuration's key"
        ) from None
    except requests.ConnectTimeout:
        raise _no_connection(url, timeout) from None
    # ReadTimeoutError: what urllib3 raises on the direct path (``transport.direct``).
    except (requests.Timeout, urllib3.exceptions.ReadTimeoutError):
        raise _no_answer(url, timeout) from None
    except requests.ConnectionError as exc:
        raise _failed_connection(exc, url, timeout) from None
    except requests.RequestException as exc:
        raise TransportError(
            f"request to {_host(url)} failed: {_reason(exc)}", retryable=True
        ) from None
    # What else urllib3 raises on the direct path, read as requests reads it.
    except urllib3.exceptions.MaxRetryError as exc:  # connection attempts used up
        if isinstance(exc.reason, urllib3.exceptions.ConnectTimeoutError):
            raise _no_connection(url, timeout) from None
        raise _failed_connection(exc, url, timeout) from None
    except urllib3.exceptions.HTTPError as exc:  # a dropped connection, a TLS failure
        raise _failed_connection(exc, url, timeout) from None


def _no_connection(url: str, timeout: tuple[float, float]) -> TransportError:
    """No connection within the connect timeout: nothing was sent."""
    return TransportError(f"no connection to {_host(url)} within {timeout[0]:g} s", retryable=True)


def _no_answer(url: str, timeout: tuple[float, float]) -> TransportError:
    return _unanswered(f"no answer from {_host(url)} within {timeout[1]:g} s")


def _failed_connection(exc: Exception, url: str, timeout: tuple[float, float]) -> TransportError:
    if _timed_out(exc):
        return _no_answer(url, timeout)
    message = f"connection to {_host(url)} failed: {_reason(exc)}"
    if _never_connected(exc):
        return TransportError(message, retryable=True)
    return _unanswered(message)


def _lines(response: requests.Response, url: str, timeout: tuple[float, float]) -> Iterator[bytes]:
    """A streamed answer's lines, with a broken stream reported as the worker's error."""
    with _translated_errors(url, timeout):
        yield from (line for line in response.iter_lines(chunk_size=1 << 16) if line)


@dataclass(frozen=True)
class StreamedLines:
    """A streamed answer: status, headers, an error answer's body, or the lines."""

    status_code: int
    headers: CaseInsensitiveDict[str]
    content: bytes
    lines: Iterator[bytes]

    def response(self) -> HttpResponse:
        """The answer as a whole (for an error answer, whose body was read)."""
        return HttpResponse(self.status_code, self.headers, self.content)


def _unanswered(message: str) -> TransportError:
    """The request went out and no answer came: the provider may have done (and billed)
    the work."""
    return TransportError(message, retryable=True, details={"may_have_been_billed": True})


def _never_connected(exc: BaseException) -> bool:
    """Whether the connection was never opened, so nothing was sent."""
    inner: BaseException | None = exc
    for _ in range(20):
        if inner is None:
            return False
        if isinstance(inner, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
            return True
        inner = inner.__cause__ or inner.__context__ or _urllib3_reason(inner)
    return False


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def _timed_out(exc: BaseException) -> bool:
    inner: BaseException | None = exc
    for _ in range(20):  # exception chains are short; never loop on a cycle
        if inner is None:
            break
        if isinstance(inner, TimeoutError | urllib3.exceptions.TimeoutError):
            return True
        inner = inner.__cause__ or inner.__context__ or _urllib3_reason(inner)
    return False


def _urllib3_reason(exc: BaseException) -> BaseException | None:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        return reason
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], BaseException) else None


def _reason(exc: Exception) -> str:
    # The innermost cause reads best ("Connection refused"), and never contains headers.
    inner: BaseException = exc
    while inner.__cause__ is not None or inner.__context__ is not None:
        nxt = inner.__cause__ or inner.__context__
        assert nxt is not None
        inner = nxt
    text = str(inner) or type(inner).__name__
    return text[:300]
