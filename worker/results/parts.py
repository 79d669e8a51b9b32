"""A large output's JSON text split across Redis string keys.

Redis refuses values over 512 MB and copies big values slowly, so the result store
keeps an output bigger than ``part_bytes`` as parts (``Keys.output_part``). Every
write has its own ``write_id``: two deliveries of one job writing at once never mix
their parts, and the record written last (by the result store's atomic rule) names the
parts that count.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from worker.keys import Keys

#: Parts of 32 MiB: far below Redis' 512 MB value limit, small enough to copy quickly.
DEFAULT_PART_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class PartsMarker:
    """Which parts hold an output: the write that made them, how many, total bytes."""

    write_id: str
    count: int
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {"write_id": self.write_id, "count": self.count, "bytes": self.bytes}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> PartsMarker:
        return cls(str(value["write_id"]), int(value["count"]), int(value["bytes"]))

    def encode(self) -> str:
        """The compact form kept beside the record, for the store's Lua script."""
        return f"{self.write_id}:{self.count}"

    @classmethod
    def decode(cls, encoded: str) -> PartsMarker:
        write_id, _, count = encoded.partition(":")
        return cls(write_id, int(count or 0), 0)


def joined(marker: PartsMarker, parts: list[bytes | None]) -> bytes | None:
    """The whole JSON text from the parts as read, or None when a part is gone
    (replaced or expired)."""
    if any(part is None for part in parts):
        return None
    data = b"".join(part for part in parts if part is not None)
    return data if len(data) == marker.bytes else None


class OutputParts:
    """Writes, reads and deletes the parts of one job's output."""

    def __init__(self, client: redis.Redis, keys: Keys, part_bytes: int) -> None:
        if part_bytes < 1:
            raise ValueError("part_bytes must be positive")
        self.client = client
        self.names = keys
        self.part_bytes = part_bytes

    def keys(self, job_id: str, marker: PartsMarker) -> list[str]:
        return [self.names.output_part(job_id, marker.write_id, n) for n in range(marker.count)]

    def write(self, job_id: str, pieces: Iterator[bytes], ttl_s: int) -> bytes | PartsMarker:
        """The whole JSON text if it fits in one part; else the marker of the parts written.

        Parts get the record's TTL here already, so an abandoned write cleans itself up.
        """
        buffer = bytearray()
        for piece in pieces:
            buffer += piece
            if len(buffer) > self.part_bytes:
                break
        else:
            return bytes(buffer)
        write_id = uuid.uuid4().hex
        count, total = 0, 0

        def flush(size: int) -> None:
            nonlocal count, total
            key = self.names.output_part(job_id, write_id, count)
            self.client.set(key, bytes(buffer[:size]), ex=ttl_s)
            del buffer[:size]
            count, total = count + 1, total + size

        try:
            for piece in pieces:  # the rest of the same iterator
                while len(buffer) >= self.part_bytes:
                    flush(self.part_bytes)
                buffer += piece
            while buffer:
                flush(min(len(buffer), self.part_bytes))
        except BaseException:
            self.delete(job_id, PartsMarker(write_id, count + 1, total))
            raise
        return PartsMarker(write_id, count, total)

    def read(self, job_id: str, marker: PartsMarker) -> bytes | None:
        """The whole JSON text, or None when a part is gone (replaced or expired)."""
        pipe = self.client.pipeline(transaction=False)
        for key in self.keys(job_id, marker):
            pipe.get(key)
        return joined(marker, pipe.execute())

    def delete(self, job_id: str, marker: PartsMarker) -> None:
        keys = self.keys(job_id, marker)
        if keys:
            self.client.delete(*keys)
