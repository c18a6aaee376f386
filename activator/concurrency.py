"""Time-weighted concurrency per revision, the signal the autoscaler sizes revisions by.

The average over a window is the integral of in-flight requests over time divided by the
window's length, as Knative's queue-proxy and activator compute it. Requests count from the
moment they reach the gateway, queued ones included: at zero they are the demand.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class WindowStats:
    average_concurrency: float
    requests: int


class ConcurrencyRecorder:
    __slots__ = ("_area", "_in_flight", "_last", "_requests", "_window_start")

    def __init__(self, now: float) -> None:
        self._in_flight = 0
        self._area = 0.0
        self._last = now
        self._window_start = now
        self._requests = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def start(self, now: float) -> None:
        self._advance(now)
        self._in_flight += 1
        self._requests += 1

    def end(self, now: float) -> None:
        self._advance(now)
        self._in_flight -= 1

    def idle(self) -> bool:
        """Nothing in flight and nothing in the current window: no need to report it."""
        return self._in_flight == 0 and self._requests == 0 and self._area == 0.0

    def report(self, now: float) -> WindowStats:
        """The window since the last report; starts a new one."""
        self._advance(now)
        elapsed = now - self._window_start
        average = self._area / elapsed if elapsed > 0 else float(self._in_flight)
        stats = WindowStats(average_concurrency=average, requests=self._requests)
        self._area = 0.0
        self._requests = 0
        self._window_start = now
        return stats

    def _advance(self, now: float) -> None:
        if now > self._last:
            self._area += self._in_flight * (now - self._last)
            self._last = now
