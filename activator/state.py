"""The gateway's live view: the routing table and, per revision, its throttler and recorder.

`GatewayState.apply` turns a `ClusterSnapshot` into that view. It is level-based: it recomputes
the table, then brings every revision's throttler to the current ready pods, releasing queued
requests (oldest first) as capacity appears.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable

from activator import admission
from activator.backends import PodAddress, RevisionSettings, ready_addresses
from activator.concurrency import ConcurrencyRecorder
from activator.config import GatewayConfig
from activator.lb_policy import PodTracker
from activator.routing import RevisionKey, RoutingTable
from activator.source import ClusterSnapshot
from activator.subsetting import ReplicaSlot
from activator.throttler import RevisionThrottler

Waiter = asyncio.Future[PodTracker]


@dataclasses.dataclass(eq=False)
class RevisionState:
    key: RevisionKey
    service_name: str
    settings: RevisionSettings
    throttler: RevisionThrottler[Waiter]
    recorder: ConcurrencyRecorder
    last_poke: float = float("-inf")
    pods: tuple[PodAddress, ...] = ()

    def busy(self) -> bool:
        return self.throttler.waiting > 0 or self.recorder.in_flight > 0 or not self.recorder.idle()


class GatewayState:
    def __init__(self, config: GatewayConfig, clock: Callable[[], float], rng: random.Random) -> None:
        self.config = config
        self.clock = clock
        self._rng = rng
        self.table = RoutingTable.empty()
        self.revisions: dict[RevisionKey, RevisionState] = {}
        self.slot = ReplicaSlot()
        # Ready once the first snapshot is applied; not ready again once draining starts.
        self.synced = False
        self.first_sync = asyncio.Event()
        self.draining = False

    @property
    def ready(self) -> bool:
        return self.synced and not self.draining

    def apply(self, snapshot: ClusterSnapshot) -> None:
        now = self.clock()
        self.table = RoutingTable.from_ingresses(snapshot.ingresses, self.config.ingress_class)
        self.slot = snapshot.slot
        endpoints = {
            (str(e["metadata"].get("namespace", "")), str(e["metadata"].get("name", ""))): e
            for e in snapshot.endpoints
        }
        settings = {
            RevisionKey(str(r["metadata"].get("namespace", "")), str(r["metadata"].get("name", ""))): r
            for r in snapshot.revisions
        }
        wanted = self.table.revisions()
        # Revisions no longer routed to stay while they still hold requests.
        for key, old in list(self.revisions.items()):
            if key not in wanted:
                if old.busy():
                    wanted[key] = old.service_name
                else:
                    del self.revisions[key]
        for key, service_name in wanted.items():
            revision = settings.get(key)
            rev_settings = RevisionSettings.from_revision(revision) if revision else RevisionSettings()
            state = self.revisions.get(key)
            if state is None:
                state = RevisionState(
                    key=key,
                    service_name=service_name,
                    settings=rev_settings,
                    throttler=RevisionThrottler(
                        rev_settings.container_concurrency, self.config.queue_depth, self._rng, self.slot
                    ),
                    recorder=ConcurrencyRecorder(now),
                )
                self.revisions[key] = state
            state.settings = rev_settings
            endpoint = endpoints.get((key.namespace, service_name))
            state.pods = ready_addresses(endpoint) if endpoint else ()
            grants = state.throttler.update(state.pods, self.slot, rev_settings.container_concurrency, now)
            admission.wake(state.throttler, grants, now)
        self.synced = True
        self.first_sync.set()
