"""Coarse deadlines for the request hot path: tasks past theirs are cancelled by a periodic sweep.

`asyncio.timeout_at` costs about 7 us per request (a timer handle armed and cancelled, a context
object, current_task look-ups), the same order as routing a request. Proxied requests nearly
always end long before their deadline (Knative's default is 300 s), so a sweep every 50 ms over
the requests in flight does the same job for a dictionary store and delete per request; a
deadline is then met up to one period late, which no HTTP timeout notices.

Used as: `watch(task, when)`, the awaits, then `expired(task)` in `except CancelledError` (which
tells a deadline from any other cancellation, as asyncio.Timeout does) and `unwatch(task)` in
`finally`.
"""

from __future__ import annotations

import asyncio
from typing import Any

SWEEP_PERIOD_S = 0.05

Task = asyncio.Task[Any]


class DeadlineWatch:
    def __init__(self, period_s: float = SWEEP_PERIOD_S) -> None:
        self._period_s = period_s
        self._watched: dict[Task, float] = {}
        self._fired: set[Task] = set()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, task: Task, when: float) -> None:
        """Cancel `task` once loop time passes `when` (again: moves its deadline)."""
        if when == float("inf"):
            self._watched.pop(task, None)
            return
        self._watched[task] = when
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._period_s, self._sweep)

    def unwatch(self, task: Task) -> None:
        self._watched.pop(task, None)
        self._fired.discard(task)

    def expired(self, task: Task) -> bool:
        """Whether the cancellation `task` is handling is its deadline's alone; if so the
        cancellation is withdrawn (`uncancel`), as asyncio.Timeout turns it into TimeoutError."""
        if task not in self._fired:
            return False
        self._fired.discard(task)
        # Cancelled for another reason too (its client went away): that one still stands.
        return task.uncancel() == 0

    def _sweep(self) -> None:
        now = asyncio.get_running_loop().time()
        for task, when in list(self._watched.items()):
            if when <= now:
                del self._watched[task]
                if not task.done():
                    self._fired.add(task)
                    task.cancel()
        self._timer = None
        if self._watched:
            self._timer = asyncio.get_running_loop().call_later(self._period_s, self._sweep)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._watched.clear()
        self._fired.clear()
