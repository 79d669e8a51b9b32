"""Provider calls sent straight through urllib3's connection pools.

``requests`` builds each call from scratch: it parses and re-quotes the URL, encodes the
(empty) query, resolves the adapter and the TLS settings, wraps the answer in a
``Response`` and runs the cookie jar over it. For a worker that sends the same few URLs
thousands of times, that was most of an API call's CPU beyond urllib3's own (about
0.2 ms of 0.5 ms, ``bench/run.py``). Here everything that depends only on the URL is
worked out once, by requests' own functions, and kept: the prepared URL, the proxy
decision and the TLS settings from the environment. Each call then costs urllib3's
``urlopen`` and the JSON encoding.

The wire is the same as through ``requests``: the session's default headers, the same
JSON encoding, ``Content-Length``, connection-only retries and no redirects. A URL that
the environment sends through a proxy is not routed here (``Route`` is None) and goes
through ``requests``, which speaks to proxies.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.utils import DEFAULT_CA_BUNDLE_PATH, check_header_validity, select_proxy
from urllib3.util import parse_url

#: URLs (with their query) and hosts remembered per process: a worker calls the few
#: endpoints of its configurations; past this, new ones take ``requests``' path.
MAX_ROUTES = 256
MAX_HOSTS = 64


@dataclass(frozen=True)
class Route:
    """Where a URL goes: the pool of its host and the request target (path and query)."""

    pool: urllib3.HTTPConnectionPool
    target: str


class DirectPools:
    """The routes and connection pools of one process, shared by its threads."""

    def __init__(self, session: requests.Session, *, pool_size: int, retries: Any) -> None:
        self.session = session
        self.pool_size = pool_size
        self.retries = retries
        #: The session's default headers (user agent, accepted encodings), sent first.
        self.default_headers = {
            name: value if isinstance(value, str) else value.decode("latin-1")
            for name, value in session.headers.items()
        }
        self._routes: dict[tuple[str, tuple[tuple[str, str], ...]], Route | None] = {}
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The session's default headers overridden by ``headers``, in any letter case."""
        given = {name.lower() for name in headers}
        sent = {k: v for k, v in self.default_headers.items() if k.lower() not in given}
        sent.update(headers)
        return sent

    def route(self, url: str, params: Mapping[str, Any] | None) -> Route | None:
        """The route of ``url`` with ``params``, or None: send it through ``requests``."""
        key = (url, tuple(sorted((str(k), str(v)) for k, v in (params or {}).items())))
        try:
            return self._routes[key]
        except KeyError:
            pass
        if len(self._routes) >= MAX_ROUTES:
            return None
        found = self._resolve(url, params)
        self._routes[key] = found
        return found

    def _resolve(self, url: str, params: Mapping[str, Any] | None) -> Route | None:
        prepared = requests.PreparedRequest()
        prepared.prepare_url(url, dict(params) if params else None)
        full = str(prepared.url)
        settings = self.session.merge_environment_settings(full, {}, None, None, None)
        if select_proxy(full, settings["proxies"]) is not None or settings.get("cert"):
            return None
        parts = parse_url(full)
        scheme, host = parts.scheme or "http", parts.host or ""
        if scheme not in ("http", "https") or not host:
            return None
        port = parts.port or (443 if scheme == "https" else 80)
        tls = _tls_settings(settings["verify"]) if scheme == "https" else {}
        pool = self._pool(scheme, host, port, tls)
        return None if pool is None else Route(pool, parts.request_uri)

    def _pool(
        self, scheme: str, host: str, port: int, tls: dict[str, Any]
    ) -> urllib3.HTTPConnectionPool | None:
        key = (scheme, host, port, repr(sorted(tls.items())))
        with self._lock:
            if key not in self._pools:
                if len(self._pools) >= MAX_HOSTS:
                    return None
                kind: type[urllib3.HTTPConnectionPool] = urllib3.HTTPConnectionPool
                if scheme == "https":
                    kind = urllib3.HTTPSConnectionPool
                self._pools[key] = kind(
                    host, port, maxsize=self.pool_size, block=False, retries=self.retries, **tls
                )
            return self._pools[key]

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
            self._routes = {}
        for pool in pools:
            pool.close()


def _tls_settings(verify: Any) -> dict[str, Any]:
    """What ``requests`` would verify a host's certificate against, in urllib3's terms."""
    if verify is False:
        return {"cert_reqs": "CERT_NONE"}
    where = verify if isinstance(verify, str) else DEFAULT_CA_BUNDLE_PATH
    if os.path.isdir(where):
        return {"cert_reqs": "CERT_REQUIRED", "ca_cert_dir": where}
    return {"cert_reqs": "CERT_REQUIRED", "ca_certs": where}


def send(
    route: Route,
    method: str,
    headers: Mapping[str, str],
    json_body: Any,
    data: bytes | None,
    timeout: urllib3.Timeout,
) -> urllib3.BaseHTTPResponse:
    """One call on ``route``, its answer read whole (the connection goes back to the pool).

    Headers are checked as ``requests`` checks them (``InvalidHeader`` never reaches the
    socket); a JSON body is encoded as ``requests`` encodes it.
    """
    for header in headers.items():
        check_header_validity(header)
    sent = dict(headers)
    body = data
    if json_body is not None:
        try:
            body = json.dumps(json_body, allow_nan=False).encode("utf-8")
        except ValueError as exc:
            raise requests.exceptions.InvalidJSONError(exc) from None
        if not any(name.lower() == "content-type" for name in sent):
            sent["Content-Type"] = "application/json"
    return route.pool.urlopen(
        method,
        route.target,
        body=body,
        headers=sent,
        redirect=False,
        assert_same_host=False,
        timeout=timeout,
        preload_content=True,
        decode_content=True,
    )
