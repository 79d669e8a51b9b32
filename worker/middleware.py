"""Binds each message's job id and operation to every log event while it runs."""

from __future__ import annotations

from typing import Any

import structlog
from dramatiq import Middleware


class JobLogContext(Middleware):
    """Put ``job_id`` and ``operation`` in the log context for the message's lifetime."""

    def before_process_message(self, broker: Any, message: Any) -> None:
        job_id = message.args[0] if message.args else None
        structlog.contextvars.bind_contextvars(job_id=job_id, operation=message.actor_name)

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker: Any, message: Any) -> None:
        structlog.contextvars.clear_contextvars()
