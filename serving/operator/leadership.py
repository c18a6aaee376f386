"""The operator's leader election: only the holder of the `kwake-operator` Lease reconciles.

Every replica runs kopf: its watches keep the Controller's set of known objects current (so a
standby that takes over resyncs at once from a warm cache), and its admission webhooks answer
(validation and defaulting are pure functions of the object and the config, so any replica may
serve them, and the webhook Service may send a request to any Ready pod). Only the Controller's
workers — every write the operator makes besides kopf's webhook registration — run on the leader.

As controller-runtime does, a replica that LOSES the Lease does not try to carry on: it stops
its workers at once and the process exits (`LeadershipLost`), so the Deployment restarts it as a
clean standby. On a clean stop the leader stops its workers first, then releases the Lease so a
standby takes over at its next round instead of waiting out the lease duration.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Final

from localkube.client import ApiClient, LeaderElector, LeaseTimings, default_identity
from localkube.client.tasks import cancel_and_wait, create_guarded_task
from serving.operator.controller import Controller

log = logging.getLogger("kwake.operator.leader")

LEASE_NAME: Final = "kwake-operator"


class LeadershipLost(Exception):
    """This replica led and lost the Lease: the process must exit and start again as a standby."""


@dataclass(frozen=True)
class LeaderElection:
    """Which Lease the operator replicas share, and client-go's timings."""

    namespace: str
    name: str = LEASE_NAME
    identity: str = field(default_factory=default_identity)
    timings: LeaseTimings = field(default_factory=LeaseTimings)


class Leadership:
    """Starts the Controller's workers when this replica acquires the Lease, stops them on loss."""

    def __init__(self, client: ApiClient, controller: Controller, election: LeaderElection) -> None:
        self._controller = controller
        self._election = election
        self._elector = LeaderElector(
            client,
            name=election.name,
            namespace=election.namespace,
            identity=election.identity,
            on_change=self._changed,
            timings=election.timings,
        )
        self._acquired = asyncio.Event()
        self._lost = asyncio.Event()
        self._stopping = False
        self._campaign: asyncio.Task[None] | None = None
        self._leading: asyncio.Task[None] | None = None

    @property
    def leading(self) -> bool:
        return self._elector.leading

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def _changed(self, leading: bool) -> None:
        if leading:
            self._acquired.set()
            return
        if self._stopping or self._lost.is_set():
            return  # our own clean stop (the workers are already down), or a loss already seen
        # Called in the elector's task the moment the Lease is lost: no worker takes another
        # key from here on; `_lead` cancels the reconciles in flight right after.
        for queue in self._controller.queues.values():
            queue.shut_down()
        log.error(
            "lost the lease %s/%s: stopping; the process exits to restart as a standby",
            self._election.namespace,
            self._election.name,
        )
        self._lost.set()
        self._acquired.set()  # wakes `_lead` even if this replica never led

    def start(self, on_lost: asyncio.Event) -> None:
        """Campaign in the background; `on_lost` is set once the Controller stopped after a loss."""
        log.info(
            "waiting to lead (lease %s/%s, identity %s)",
            self._election.namespace,
            self._election.name,
            self._election.identity,
        )
        self._campaign = create_guarded_task(self._elector.run(), "operator-leader-election", log)
        # Should the campaign end by itself (a bug), nobody renews the Lease any more: that is a
        # loss too, or this replica would go on reconciling once another one took over.
        self._campaign.add_done_callback(lambda _: self._changed(False))
        self._leading = create_guarded_task(self._lead(on_lost), "operator-leadership", log)

    async def _lead(self, on_lost: asyncio.Event) -> None:
        await self._acquired.wait()
        if not self._lost.is_set():
            log.info("leading: reconciling")
            await self._controller.start()
        await self._lost.wait()
        try:
            await self._controller.stop()  # cancels the reconciles in flight
            # No more campaigning either: this process is on its way out, and a Lease it took
            # again now would only be released a moment later.
            if self._campaign is not None:
                await cancel_and_wait([self._campaign])
        finally:
            on_lost.set()

    async def stop(self) -> None:
        """Clean stop: workers first, then the elector, which releases the Lease if we hold it."""
        self._stopping = True
        if self._leading is not None:
            await cancel_and_wait([self._leading])
        await self._controller.stop()
        if self._campaign is not None:
            await cancel_and_wait([self._campaign])
