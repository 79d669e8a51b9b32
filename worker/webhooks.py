"""Standard Webhooks signatures: how the worker signs a webhook, and how a receiver checks it.

The scheme is the Standard Webhooks specification's (1.0.0, symmetric): three headers,
``webhook-id`` (the same on every attempt at one delivery: a receiver's idempotency
key), ``webhook-timestamp`` (the attempt's Unix seconds) and ``webhook-signature``
(space-separated ``v1,<base64 HMAC-SHA256>`` entries, one per secret), each signature
over ``{webhook-id}.{webhook-timestamp}.{body}`` with the secret's bytes as the key. A
secret is written ``whsec_`` followed by the base64 of 24 to 64 random bytes.

A Python receiver needs only ``verify``; this module uses the standard library alone, so
importing it loads no engine, Redis or Dramatiq::

    from worker.webhooks import verify
    event = verify(secret, request.headers, request.body)   # raises on a bad delivery
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

SECRET_PREFIX = "whsec_"  # noqa: S105 - the specification's prefix, not a secret
#: The specification's bounds on a secret's random bytes.
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
#: How far a delivery's timestamp may be from the receiver's clock (replay protection).
DEFAULT_TOLERANCE_S = 300.0
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
_HEADERS = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
_VERSION = "v1"


class WebhookVerificationError(Exception):
    """A delivery that is not provably from the worker: never act on its body."""


def secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_…`` secret stands for; ``ValueError`` (never quoting the
    secret) when it is not one."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"a webhook secret is {SECRET_PREFIX!r} followed by base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"a webhook secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, "
            f"this one {len(key)}"
        )
    return key


def generate_secret() -> str:
    """A new secret: 32 random bytes, in the ``whsec_`` form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _signature(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> bytes:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def signed_headers(
    signing_secrets: Sequence[str], webhook_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three headers of a delivery of ``body``, signed with each secret (the first is
    the current one; more let receivers move to a new secret without a gap)."""
    if not signing_secrets:
        raise ValueError("no webhook secret to sign with")
    if "." in webhook_id:
        raise ValueError("a webhook id may not contain '.'")  # it delimits the signed text
    stamp = str(int(timestamp))
    digests = (_signature(secret_key(s), webhook_id, stamp, body) for s in signing_secrets)
    signatures = (f"{_VERSION},{base64.b64encode(digest).decode()}" for digest in digests)
    return {ID_HEADER: webhook_id, TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: " ".join(signatures)}


def verify(
    secret: str | Sequence[str],
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> Any:
    """The delivery's JSON body, once its signature and timestamp are checked.

    ``secret`` is the worker's ``OPENAI_WORKER_WEBHOOK_SECRET`` (or several, while
    moving to a new one); ``headers`` the request's (any case); ``body`` the raw bytes as
    received, before any parsing. Raises ``WebhookVerificationError`` saying what is wrong.
    """
    keys = [secret_key(s) for s in ([secret] if isinstance(secret, str) else secret)]
    found = {name.lower(): value for name, value in headers.items()}
    webhook_id, stamp, signatures = (found.get(name) or "" for name in _HEADERS)
    missing = [name for name in _HEADERS if not found.get(name)]
    if missing:
        raise WebhookVerificationError(f"missing header(s): {', '.join(missing)}")
    if not stamp.isascii() or not stamp.isdigit():
        raise WebhookVerificationError(f"{TIMESTAMP_HEADER} is not Unix seconds")
    skew = (time.time() if now is None else now) - int(stamp)
    if abs(skew) > tolerance_s:
        when = "old" if skew > 0 else "far in the future"
        raise WebhookVerificationError(
            f"{TIMESTAMP_HEADER} is {abs(skew):.0f} s {when} (tolerance {tolerance_s:g} s)"
        )
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    expected = [_signature(key, webhook_id, stamp, raw) for key in keys]
    for entry in signatures.split():
        version, _, encoded = entry.partition(",")
        if version != _VERSION:
            continue  # another scheme (v1a): not ours to check
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(given, wanted) for wanted in expected):
            try:
                return json.loads(raw)
            except ValueError:
                raise WebhookVerificationError("the signed body is not JSON") from None
    raise WebhookVerificationError("no signature matches the secret")


__all__ = [
    "DEFAULT_TOLERANCE_S",
    "SECRET_PREFIX",
    "WebhookVerificationError",
    "generate_secret",
    "secret_key",
    "signed_headers",
    "verify",
]
