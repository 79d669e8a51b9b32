"""A pool: one name for several configurations of the same model, routed per call.

A plain value checked on construction, as ``Configuration`` is. Members name stored
configurations; each has a weight (for the ``weighted`` strategy) and, for OpenAI
members, an optional model that replaces the payload's. ``fallback`` names a
configuration or another pool, tried when every member is cooling down or out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from worker.errors import ConfigurationError

#: How a call picks among the members that can take it.
STRATEGIES = ("weighted", "least-busy", "lowest-latency")
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
#: Members a pool may have; routing reads every member's state per call.
MAX_MEMBERS = 32
MAX_WEIGHT = 1000


@dataclass(frozen=True)
class Member:
    """One configuration of a pool."""

    configuration: str
    weight: int = 1
    #: The model OpenAI members send instead of the payload's (Azure: the deployment's).
    model: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"configuration": self.configuration, "weight": self.weight, "model": self.model}


@dataclass(frozen=True)
class Pool:
    """A named set of member configurations with a routing strategy and a fallback."""

    name: str
    members: tuple[Member, ...]
    strategy: str = "weighted"
    fallback: str | None = None

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ConfigurationError(f"pool {self.name!r}: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """Every reason this pool cannot be used, as readable sentences."""
        found: list[str] = []
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            found.append("name must be 1-200 printable characters")
        if not self.members:
            found.append("a pool needs at least one member")
        if len(self.members) > MAX_MEMBERS:
            found.append(f"a pool has at most {MAX_MEMBERS} members")
        names = [member.configuration for member in self.members]
        if len(set(names)) != len(names):
            found.append("each configuration may be a member once")
        for member in self.members:
            if not isinstance(member.configuration, str) or not _NAME.match(member.configuration):
                found.append("member names must be 1-200 printable characters")
            if member.configuration == self.name:
                found.append("a pool cannot be its own member")
            if (
                isinstance(member.weight, bool)
                or not isinstance(member.weight, int)
                or not 1 <= member.weight <= MAX_WEIGHT
            ):
                found.append(f"weights must be whole numbers from 1 to {MAX_WEIGHT}")
            if member.model is not None and (
                not isinstance(member.model, str) or not _NAME.match(member.model)
            ):
                found.append("a member's model must be 1-200 printable characters")
        if self.strategy not in STRATEGIES:
            found.append(f"strategy must be one of {', '.join(STRATEGIES)}")
        if self.fallback is not None and (
            not isinstance(self.fallback, str) or not _NAME.match(self.fallback)
        ):
            found.append("fallback must name a configuration or a pool")
        elif self.fallback == self.name or self.fallback in names:
            found.append("the fallback must be neither the pool itself nor one of its members")
        return sorted(set(found), key=found.index)

    def public_dict(self) -> dict[str, Any]:
        """What ``configurations`` shows of a pool."""
        return {
            "name": self.name,
            "kind": "pool",
            "members": [member.as_dict() for member in self.members],
            "strategy": self.strategy,
            "fallback": self.fallback,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pool:
        try:
            members = tuple(
                Member(m["configuration"], int(m.get("weight") or 1), m.get("model"))
                for m in data["members"]
            )
            return cls(
                name=data["name"],
                members=members,
                strategy=data.get("strategy") or "weighted",
                fallback=data.get("fallback"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"a stored pool is malformed: {exc}") from None


def parse_member(text: str) -> Member:
    """``CONF`` or ``CONF:WEIGHT``, as ``configure-pool --member`` takes it."""
    name, colon, weight = text.rpartition(":")
    if colon and weight.isdigit() and name:
        return Member(name, int(weight))
    return Member(text)
