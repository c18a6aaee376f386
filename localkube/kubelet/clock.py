"""Time for the kubelet, passed in so tests can run back-offs and probe periods fast.

`monotonic()` measures durations (back-off, grace periods, probe periods); `wall()` stamps
status fields (startedAt, lastTransitionTime). `sleep()` waits in the clock's own time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Time that runs `speed` times faster than real time, for tests with real processes.

    A 10 s back-off at speed 100 takes 100 ms of real time, while processes, sockets and probes
    stay real: nothing is mocked, only the kubelet's notion of how long a second is.
    """

    def __init__(self, speed: float) -> None:
        self._speed = speed
        self._real_origin = time.monotonic()
        self._wall_origin = datetime.now(UTC)

    def monotonic(self) -> float:
        return self._real_origin + (time.monotonic() - self._real_origin) * self._speed

    def wall(self) -> datetime:
        elapsed = (time.monotonic() - self._real_origin) * self._speed
        return self._wall_origin + timedelta(seconds=elapsed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self._speed)


def rfc3339(moment: datetime) -> str:
    """Kubernetes' timestamp format: second precision, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
