"""Wakes the autoscaler for a revision with no ready pod, at once rather than at the next tick.

At most one poke per revision per `interval`: a burst of 10 000 requests at zero is one poke.
"""

from __future__ import annotations

from collections.abc import Callable

from activator.state import RevisionState
from activator.stats import StatsSink
from activator.tasks import TaskGroup


class Poker:
    def __init__(
        self, sink: StatsSink, tasks: TaskGroup, interval_s: float, clock: Callable[[], float]
    ) -> None:
        # Replaceable once the app starts, when a sink that needs the shared session exists.
        self.sink = sink
        self._tasks = tasks
        self._interval = interval_s
        self._clock = clock

    def maybe_poke(self, revision: RevisionState) -> bool:
        now = self._clock()
        if now - revision.last_poke < self._interval:
            return False
        revision.last_poke = now
        self._tasks.spawn(self.sink.poke(revision.key), name=f"poke {revision.key}")
        return True
