"""How several gateway replicas share a revision's pods so that together they respect
containerConcurrency, as Knative's activators do.

With CC = 0 there is nothing to share: every replica uses every pod. With CC > 0 the IP-sorted
pods are cut into equal slices of floor(pods / replicas), one per replica, and the remainder pods
are handed out one per replica. With more replicas than pods, replica i uses pod i mod pods, and
the replicas sharing a pod split its CC between them (at least 1 each). A replica that does not
know its index (not yet in its own Endpoints) uses every pod, as Knative's does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from activator.backends import PodAddress


@dataclasses.dataclass(frozen=True)
class ReplicaSlot:
    """This gateway's place among the gateway replicas: index in [0, count), or -1 if unknown."""

    index: int = 0
    count: int = 1


def assign_pods(
    pods: Sequence[PodAddress], slot: ReplicaSlot, container_concurrency: int
) -> list[tuple[PodAddress, int]]:
    """The pods this replica may use, each with its capacity here (0 = unlimited)."""
    cc = container_concurrency
    if cc <= 0 or slot.count <= 1 or slot.index < 0 or not pods:
        return [(pod, cc) for pod in pods]
    n, count, index = len(pods), slot.count, slot.index % slot.count
    if count > n:
        mine = index % n
        sharers = count // n + (1 if mine < count % n else 0)
        return [(pods[mine], max(1, cc // sharers))]
    size = n // count
    assigned = list(pods[index * size : (index + 1) * size])
    remainder = n - size * count
    if index < remainder:
        assigned.append(pods[size * count + index])
    return [(pod, cc) for pod in assigned]
