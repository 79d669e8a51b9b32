"""One body for every member: operations build a pool's calls in today's OpenAI dialect
(``max_completion_tokens``, ``developer`` messages, the payload's model), and each member
gets them in its own API version's (``worker.providers``)."""

from __future__ import annotations

from typing import Any

from worker.configurations.pool import Member
from worker.providers import Provider

#: The names the pool's facade gives operations (see ``PoolProvider``).
ANSWER_LIMIT_FIELD = "max_completion_tokens"


def for_member(body: dict[str, Any], provider: Provider, member: Member) -> dict[str, Any]:
    """``body`` as ``member``'s API takes it."""
    out = dict(body)
    if provider.answer_limit_field != ANSWER_LIMIT_FIELD and ANSWER_LIMIT_FIELD in out:
        out[provider.answer_limit_field] = out.pop(ANSWER_LIMIT_FIELD)
    if not provider.developer_role and isinstance(out.get("messages"), list):
        out["messages"] = [_without_developer(message) for message in out["messages"]]
    if member.model and provider.sends_model:
        out["model"] = member.model
    return out


def _without_developer(message: Any) -> Any:
    if isinstance(message, dict) and message.get("role") == "developer":
        return {**message, "role": "system"}
    return message
