"""Watch events and the decoding of a watch stream (newline-delimited JSON, one event per line)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, cast

from localkube.client import errors

EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]
_TYPES: frozenset[str] = frozenset(("ADDED", "MODIFIED", "DELETED", "BOOKMARK"))


@dataclass(frozen=True)
class WatchEvent:
    """One event of a watch: `type` and the object (for BOOKMARK only `metadata.resourceVersion`)."""

    type: EventType
    object: dict[str, Any]

    @property
    def resource_version(self) -> str:
        return str((self.object.get("metadata") or {}).get("resourceVersion") or "")


def parse_event(raw: dict[str, Any]) -> WatchEvent:
    """A `WatchEvent` from one decoded line; an ERROR line raises the `ApiError` it carries
    (`errors.Gone` for 410, the signal to relist)."""
    kind = raw.get("type")
    obj = raw.get("object")
    if not isinstance(obj, dict):
        obj = {}
    if kind == "ERROR":
        raise errors.error_from_status(obj)
    if kind not in _TYPES:
        raise errors.ApiError(500, "InternalError", f"unknown watch event type {kind!r}", obj)
    return WatchEvent(cast(EventType, kind), obj)


async def split_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Reassemble lines from arbitrary chunks; no line-length limit (objects can be large)."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer.extend(chunk)
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = bytes(buffer[start:end]).strip()
            start = end + 1
            if line:
                yield line
        del buffer[:start]
    tail = bytes(buffer).strip()
    if tail:
        yield tail


async def decode_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[WatchEvent]:
    """Watch events from the raw body chunks of a watch response."""
    async for line in split_lines(chunks):
        try:
            raw = json.loads(line)
        except ValueError as exc:
            raise errors.ApiError(
                500, "InternalError", f"undecodable watch line: {line[:200]!r}", {}
            ) from exc
        if isinstance(raw, dict):
            yield parse_event(raw)
