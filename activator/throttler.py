"""A revision's breaker and throttler as one synchronous state machine.

The breaker is a bounded FIFO of waiting requests (Knative's revision breaker, depth 10 000): a
request that finds no free pod slot waits in it, and one that finds it full gets `QueueFullError`
at once. The throttler is the set of pod trackers this gateway may use, each with its share of
containerConcurrency, and the load-balancing policy that picks among them.

Waiters are opaque hashable tokens (the async layer uses futures); every call that frees capacity
returns the (waiter, tracker) grants it made, oldest waiter first, so that the caller wakes them.
Nothing here reads a clock or touches the event loop.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

from activator.backends import PodAddress
from activator.lb_policy import PodTracker, Policy, policy_for
from activator.subsetting import ReplicaSlot, assign_pods

W = TypeVar("W", bound=Hashable)


class QueueFullError(Exception):
    """The revision's queue of waiting requests is full (answered with 503)."""


class RevisionThrottler(Generic[W]):
    def __init__(
        self,
        container_concurrency: int,
        queue_depth: int,
        rng: random.Random,
        slot: ReplicaSlot | None = None,
    ) -> None:
        self._cc = container_concurrency
        self._queue_depth = queue_depth
        self._rng = rng
        self._slot = slot or ReplicaSlot()
        self._policy: Policy = policy_for(container_concurrency, rng)
        self._pods: tuple[PodAddress, ...] = ()
        self._trackers: list[PodTracker] = []
        # Insertion-ordered set of waiters: O(1) append, pop-oldest and removal on timeout.
        self._waiters: dict[W, None] = {}
        # Requests sent back after a refused connection go before everyone else.
        self._retries: deque[W] = deque()
        # When the async layer has a timer set to dispatch again (a refused pod's back-off end).
        self.redispatch_at: float | None = None

    @property
    def container_concurrency(self) -> int:
        return self._cc

    @property
    def trackers(self) -> Sequence[PodTracker]:
        return self._trackers

    @property
    def waiting(self) -> int:
        return len(self._waiters) + len(self._retries)

    @property
    def in_flight(self) -> int:
        return sum(t.in_flight for t in self._trackers)

    @property
    def has_pods(self) -> bool:
        return bool(self._trackers)

    def capacity(self) -> int:
        """Total slots this gateway may use now; -1 when unlimited (CC = 0 with pods)."""
        if self._cc == 0:
            return -1 if self._trackers else 0
        return sum(t.capacity for t in self._trackers)

    def update(
        self,
        pods: Sequence[PodAddress],
        slot: ReplicaSlot,
        container_concurrency: int,
        now: float,
    ) -> list[tuple[W, PodTracker]]:
        """New ready pods, replica slot or CC; keeps the counts of pods still present."""
        if container_concurrency != self._cc:
            self._cc = container_concurrency
            self._policy = policy_for(container_concurrency, self._rng)
        self._pods, self._slot = tuple(pods), slot
        old = {t.pod: t for t in self._trackers}
        trackers = []
        for pod, capacity in assign_pods(self._pods, slot, self._cc):
            tracker = old.get(pod)
            if tracker is None:
                tracker = PodTracker(pod, capacity)
            else:
                tracker.capacity = capacity
            trackers.append(tracker)
        self._trackers = trackers
        return self.dispatch(now)

    def try_acquire(self, now: float) -> PodTracker | None:
        """A slot at once, only if nobody is waiting (first come, first served)."""
        if self._waiters or self._retries:
            return None
        return self._take(now)

    def enqueue(self, waiter: W) -> None:
        if len(self._waiters) >= self._queue_depth:
            raise QueueFullError(f"pending request queue full ({self._queue_depth})")
        self._waiters[waiter] = None

    def enqueue_retry(self, waiter: W) -> None:
        """Put a request whose pod refused it at the head of the queue; never refused itself."""
        self._retries.append(waiter)

    def cancel(self, waiter: W) -> bool:
        if waiter in self._waiters:
            del self._waiters[waiter]
            return True
        try:
            self._retries.remove(waiter)
        except ValueError:
            return False
        return True

    def release(self, tracker: PodTracker, now: float) -> list[tuple[W, PodTracker]]:
        tracker.in_flight -= 1
        return self.dispatch(now)

    def refused(self, tracker: PodTracker, now: float, backoff: float) -> list[tuple[W, PodTracker]]:
        """The pod refused a connection: skip it for `backoff`, give its slot to others."""
        tracker.refused_until = now + backoff
        return self.release(tracker, now)

    def dispatch(self, now: float) -> list[tuple[W, PodTracker]]:
        grants: list[tuple[W, PodTracker]] = []
        while self._retries or self._waiters:
            tracker = self._take(now)
            if tracker is None:
                break
            if self._retries:
                waiter = self._retries.popleft()
            else:
                waiter = next(iter(self._waiters))
                del self._waiters[waiter]
            grants.append((waiter, tracker))
        return grants

    def take_all_waiters(self) -> list[W]:
        """Empties the queue (at shutdown), oldest first; the caller answers them."""
        waiters = [*self._retries, *self._waiters]
        self._retries.clear()
        self._waiters.clear()
        return waiters

    def next_refusal_end(self, now: float) -> float | None:
        """When a refused pod becomes usable again, if that is what holds waiters back."""
        ends = [t.refused_until for t in self._trackers if t.refused_until > now]
        return min(ends) if ends and self.waiting else None

    def _take(self, now: float) -> PodTracker | None:
        tracker = self._policy.pick(self._trackers, now)
        if tracker is not None:
            tracker.in_flight += 1
        return tracker
