"""Structured logging: JSON for machines, readable lines on a terminal, secrets redacted.

Redaction is a processor, so it applies to every event, every exception text and
every standard-library record (Dramatiq's own logs): fields named like secrets are
blanked, and everything else passes the one redactor of ``worker.redaction`` (every
decrypted key, fragments and encodings of it, key-shaped text).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

import structlog

from worker.redaction import REDACTED, redact_text

#: Where log lines go: the process's standard error, whatever ``sys.stderr`` is bound to.
STDERR_FD = 2
SENSITIVE_KEYS = frozenset(
    {"api_key", "api-key", "authorization", "secret_key", "password", "token", "cookie"}
)


def _redact(value: Any, key: str | None = None) -> Any:
    if key is not None and key.lower() in SENSITIVE_KEYS:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def redact_processor(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """The structlog processor that removes secrets from an event."""
    return {key: _redact(value, key) for key, value in event_dict.items()}


def _renderer(log_format: str) -> Any:
    if log_format == "auto":
        log_format = "console" if sys.stderr.isatty() else "json"
    if log_format == "console":
        return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    return structlog.processors.JSONRenderer()


class _StderrLogger:
    """Writes each rendered event as one line to the process's stderr file descriptor.

    Our own events skip the standard library's logging machinery (records, handlers,
    formatters), and, in Dramatiq's worker processes, the pipe through which Dramatiq
    relays ``sys.stderr`` to its parent process (a pickled message per line, read and
    written again by the parent). Each line is one ``write`` to fd 2, which a pipe or a
    file opened for appending keeps whole up to 4 KiB even with other processes writing;
    the lock keeps longer lines of this process whole. ``name`` is what
    ``add_logger_name`` reports.
    """

    _lock = threading.Lock()

    def __init__(self, name: str = "") -> None:
        self.name = name

    def msg(self, message: str) -> None:
        data = (message + "\n").encode("utf-8", "replace")
        with self._lock:
            while data:
                data = data[os.write(STDERR_FD, data) :]

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _logger(*args: Any) -> _StderrLogger:
    return _StderrLogger(str(args[0]) if args else "")


def configure_logging(log_format: str = "auto", level: str = "INFO") -> None:
    """Send structlog and standard-library logs to stderr through the same processors."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_processor,
    ]
    level_number = getattr(logging, level.upper(), logging.INFO)
    renderer = _renderer(log_format)
    structlog.configure(
        # Events below the level cost a no-op call: nothing is built, stamped or redacted.
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level_number),
        logger_factory=_logger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level_number)
    # Connection-pool chatter would only repeat what our events already say.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
