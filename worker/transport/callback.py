"""Posting a webhook to a ``callback_url``: a URL from a payload, so treated as hostile.

The rules are the image downloader's (``pinned``): the host is resolved once, an address
that is loopback, private, link-local or otherwise not global is refused, the connection
goes to the very address checked, one deadline covers connecting, sending and reading
the answer, and a redirect is an answer like any other (never followed). Plain ``http``
is refused too. Hosts named in ``OPENAI_WORKER_WEBHOOK_ALLOW_HOSTS`` (``host`` for any
port, ``host:port`` for one) are exempt from both: a receiver on this machine or inside
the private network, by the operator's choice.
"""

from __future__ import annotations

import http.client
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from worker.errors import TransportError
from worker.retries import RetryPolicy
from worker.transport.pinned import DeadlinePassed, blocked, connection, resolve
from worker.turns import TURNS

#: How much of a receiver's answer is read (and thrown away) at most.
_ANSWER_BYTES = 64 * 1024
USER_AGENT = "openai-worker-webhooks"


class CallbackRefused(Exception):  # noqa: N818 - reads as what happened
    """The URL may not be called at all: trying again cannot help."""


@dataclass(frozen=True)
class CallbackAnswer:
    """The receiver's status, and how long it asked us to wait (``Retry-After``)."""

    status: int
    retry_after_s: float | None = None


def allowed(host: str, port: int, allow_hosts: Sequence[str]) -> bool:
    """Whether the allow list names ``host`` (for any port) or ``host:port``."""
    name = host.lower()
    name = f"[{name}]" if ":" in name else name  # IPv6, as the list spells it
    return name in allow_hosts or f"{name}:{port}" in allow_hosts


@TURNS.away()
def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    allow_hosts: Sequence[str],
    connect_timeout_s: float,
    deadline_s: float,
) -> CallbackAnswer:
    """POST ``body`` (JSON) to ``url`` by the rules above.

    ``CallbackRefused`` when the URL may not be called; ``TransportError`` when no answer
    came (retryable: the receiver may be back later).
    """
    parts = urlsplit(url)
    host, scheme = parts.hostname, parts.scheme
    if host is None or scheme not in ("http", "https"):
        raise CallbackRefused("the callback_url is not an http(s) URL with a host")
    port = parts.port or (443 if scheme == "https" else 80)
    listed = allowed(host, port, allow_hosts)
    if scheme != "https" and not listed:
        raise CallbackRefused(
            f"the callback_url is plain http to {host}: only https, unless the host is in "
            "OPENAI_WORKER_WEBHOOK_ALLOW_HOSTS"
        )
    address = resolve(host, port)
    if address is None:
        raise TransportError(f"the callback_url's host {host} does not resolve", retryable=True)
    if blocked(address) and not listed:
        raise CallbackRefused(
            f"the callback_url's host {host} is a loopback, private or reserved address "
            f"({address}); allow it with OPENAI_WORKER_WEBHOOK_ALLOW_HOSTS if it is yours"
        )
    connected = connection(scheme, host, address, port, connect_timeout_s, deadline_s)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = {
        **headers,
        "Host": parts.netloc.rpartition("@")[2],
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    try:
        connected.request("POST", target, body=body, headers=sent)
        response = connected.getresponse()
        response.read(_ANSWER_BYTES)
        wait = RetryPolicy.parse_retry_after(
            {
                "retry-after": response.getheader("Retry-After") or "",
                "retry-after-ms": response.getheader("retry-after-ms") or "",
            }
        )
        return CallbackAnswer(response.status, wait)
    except DeadlinePassed:
        raise TransportError(
            f"no answer from {host} within {deadline_s:g} s", retryable=True
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        reason = str(exc) or type(exc).__name__
        raise TransportError(f"posting to {host} failed: {reason[:200]}", retryable=True) from None
    finally:
        connected.close()


__all__ = ["CallbackAnswer", "CallbackRefused", "allowed", "post"]
