"""One redactor for everything that leaves the worker: records, logs, metric labels.

Every API key this process decrypts is registered. From then on any text on its way
out loses every run of ``FRAGMENT`` or more characters taken from the key, and from its
base64 forms (a key echoed inside a binary body comes back base64-encoded, at any of
three alignments), so neither a whole key nor a telling part of one survives, wherever
a provider echoes it and however a message is later cut. Text shaped like a bearer
token or an OpenAI key is blanked too, registered or not.

Matching is cheap on the common path: every run of 12 characters of a form contains
one of its 6-character blocks at a multiple of 6, so a text is searched for those few
blocks first and only examined closely where one occurs.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
#: The shortest run of a key's characters that is removed where it occurs.
FRAGMENT = 12
_BLOCK = FRAGMENT // 2
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"),
    # The HTTP API's tokens (``worker.tokens.TOKEN_PREFIX``).
    re.compile(r"\bowk_[A-Za-z0-9_-]{8,}"),
)
_lock = threading.Lock()
#: Every form of every registered secret, and the aligned blocks that find them fast.
_forms: tuple[str, ...] = ()
_blocks: tuple[tuple[str, str], ...] = ()
_short: tuple[str, ...] = ()


def secret_forms(secret: str) -> list[str]:
    """The secret and the stable middles of its base64 encodings at each alignment."""
    forms = [secret]
    raw = secret.encode("utf-8")
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw + b"\0" * 2).decode("ascii")
        # Characters mixing padding or neighbouring bytes differ with the context: drop
        # the first and last few, keep what any base64 text holding the key contains.
        start = (offset * 4 + 2) // 3 + 1
        stable = encoded[start : start + (len(raw) * 4) // 3 - 2]
        if len(stable) >= FRAGMENT:
            forms.append(stable)
    return forms


def register_secret(secret: str | None) -> None:
    """From now on, remove ``secret`` (and fragments and encodings of it) from output."""
    global _forms, _blocks, _short
    if not secret or len(secret) < 4:
        return
    with _lock:
        if len(secret) < FRAGMENT:
            if secret not in _short:
                _short = (*_short, secret)
            return
        if secret in _forms:
            return
        forms = secret_forms(secret)
        _forms = (*_forms, *forms)
        _blocks = (*_blocks, *_blocks_of(forms))


def _blocks_of(forms: Iterable[str]) -> list[tuple[str, str]]:
    return [
        (form[i : i + _BLOCK], form)
        for form in forms
        for i in range(0, len(form) - _BLOCK + 1, _BLOCK)
    ]


def redact_text(text: str) -> str:
    """``text`` without any registered secret, fragment or encoding of one."""
    for secret in _short:
        if secret in text:
            text = text.replace(secret, REDACTED)
    forms = {form for block, form in _blocks if block in text}
    if forms:
        text = _remove_fragments(text, forms)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


def _remove_fragments(text: str, forms: Iterable[str]) -> str:
    covered = bytearray(len(text))
    for form in forms:
        for i in range(len(form) - FRAGMENT + 1):
            gram = form[i : i + FRAGMENT]
            at = text.find(gram)
            while at != -1:
                covered[at : at + FRAGMENT] = b"\1" * FRAGMENT
                at = text.find(gram, at + 1)
    if not any(covered):
        return text
    parts, start = [], 0
    for match in re.finditer(rb"\x01+", bytes(covered)):
        parts.append(text[start : match.start()])
        parts.append(REDACTED)
        start = match.end()
    parts.append(text[start:])
    return "".join(parts)


def redact(value: Any) -> Any:
    """A JSON value with every string (object keys included) redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact_text(str(k)): redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value
