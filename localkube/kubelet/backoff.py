"""The kubelet's crash-loop back-off, as a pure object over times passed in.

Kubernetes restarts a crashed container at once the first time, then waits 10 s, 20 s, 40 s ...
capped at 5 min. A container that ran for 10 min, or whose last restart is more than 10 min old,
starts over from no delay.
"""

from __future__ import annotations

from dataclasses import dataclass

INITIAL_SECONDS = 10.0
MAX_SECONDS = 300.0
RESET_SECONDS = 600.0


@dataclass
class CrashBackoff:
    """Back-off state of one container; `on_exit` returns how long to wait before restarting."""

    initial: float = INITIAL_SECONDS
    maximum: float = MAX_SECONDS
    reset_after: float = RESET_SECONDS
    _next: float | None = None
    _last_exit: float | None = None

    def on_exit(self, started_at: float, finished_at: float) -> float:
        """The delay before the restart that follows an exit at `finished_at`."""
        ran_for = finished_at - started_at
        stale = self._last_exit is not None and finished_at - self._last_exit > self.reset_after
        if self._next is None or stale or ran_for >= self.reset_after:
            self._next = self.initial
            self._last_exit = finished_at
            return 0.0
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        self._last_exit = finished_at
        return delay
