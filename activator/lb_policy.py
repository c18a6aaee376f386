"""Knative's load-balancing policies, chosen by containerConcurrency.

Each policy picks a pod tracker with a free slot, or None. They are synchronous and take `now`
so that a pod that just refused a connection is skipped until its back-off ends.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from typing import Protocol

from activator.backends import PodAddress


@dataclasses.dataclass(eq=False, slots=True)
class PodTracker:
    """One pod as this gateway sees it: its share of the pod's capacity and what it has in flight."""

    pod: PodAddress
    # Slots this gateway may use on the pod; 0 means unlimited (containerConcurrency 0).
    capacity: int
    in_flight: int = 0
    refused_until: float = float("-inf")

    def usable(self, now: float) -> bool:
        if now < self.refused_until:
            return False
        return self.capacity == 0 or self.in_flight < self.capacity


class Policy(Protocol):
    def pick(self, trackers: Sequence[PodTracker], now: float) -> PodTracker | None: ...


class PowerOfTwoChoices:
    """CC = 0: two random pods, the one with fewer requests in flight; ties broken at random."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def pick(self, trackers: Sequence[PodTracker], now: float) -> PodTracker | None:
        n = len(trackers)
        if n == 1:
            only = trackers[0]
            return only if only.usable(now) else None
        if n == 0:
            return None
        first = self._rng.randrange(n)
        second = self._rng.randrange(n - 1)
        if second >= first:
            second += 1
        a, b = trackers[first], trackers[second]
        a_ok, b_ok = a.usable(now), b.usable(now)
        if a_ok and b_ok:
            if a.in_flight == b.in_flight:
                return a if self._rng.random() < 0.5 else b
            return a if a.in_flight < b.in_flight else b
        if a_ok or b_ok:
            return a if a_ok else b
        # Both sampled pods are unusable (refused): fall back to the least loaded usable one.
        usable = [t for t in trackers if t.usable(now)]
        return min(usable, key=lambda t: t.in_flight) if usable else None


class FirstAvailable:
    """1 <= CC <= 3: the first pod, in IP order, with a free slot; keeps small pods packed."""

    def pick(self, trackers: Sequence[PodTracker], now: float) -> PodTracker | None:
        for tracker in trackers:
            if tracker.usable(now):
                return tracker
        return None


class RoundRobin:
    """CC > 3: the next pod with a free slot after the last one chosen."""

    def __init__(self) -> None:
        self._next = 0

    def pick(self, trackers: Sequence[PodTracker], now: float) -> PodTracker | None:
        n = len(trackers)
        for step in range(n):
            index = (self._next + step) % n
            tracker = trackers[index]
            if tracker.usable(now):
                self._next = index + 1
                return tracker
        return None


def policy_for(container_concurrency: int, rng: random.Random) -> Policy:
    if container_concurrency == 0:
        return PowerOfTwoChoices(rng)
    if container_concurrency <= 3:
        return FirstAvailable()
    return RoundRobin()
