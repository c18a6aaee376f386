"""The gateway's access log as typed entries: which pod served a request, when it started and ended.

The log is JSON lines written by a thread in batches, so `read` waits until it holds as many
lines for a Host as the generator got answers (bounded in time).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    end: float  # wall clock, when the gateway finished the request
    duration: float  # seconds the gateway held it
    host: str
    status: int
    pod: str  # host:port of the last pod tried, "" when none was
    queue_wait: float

    @property
    def start(self) -> float:
        return self.end - self.duration

    def in_flight_at(self, instant: float) -> bool:
        return self.start <= instant <= self.end


def parse(text: str, host: str) -> list[Entry]:
    entries = []
    wanted = host.split(":", 1)[0].lower()
    for line in text.splitlines():
        try:
            raw = json.loads(line)
        except ValueError:
            continue
        if str(raw.get("host") or "").split(":", 1)[0].lower() != wanted:
            continue
        entries.append(
            Entry(
                float(raw.get("time") or 0.0),
                float(raw.get("duration") or 0.0),
                wanted,
                int(raw.get("status") or 0),
                str(raw.get("pod") or ""),
                float(raw.get("queue_wait") or 0.0),
            )
        )
    return entries


def read(path: Path, host: str, at_least: int, within: float = 5.0) -> list[Entry]:
    """The entries for `host`, once there are `at_least` of them or `within` seconds passed."""
    deadline = time.monotonic() + within
    while True:
        try:
            entries = parse(path.read_text(errors="replace"), host)
        except OSError:
            entries = []
        if len(entries) >= at_least or time.monotonic() > deadline:
            return entries
        time.sleep(0.1)
