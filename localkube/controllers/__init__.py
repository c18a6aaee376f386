"""localkube's controllers: Deployments (pods managed directly), Endpoints and EndpointSlices.

Each is an API client like any other (it never touches the store), so they also run against a
real API server. `run_controllers(client, stop)` runs them all until `stop` is set; it shares
one pod informer between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from localkube.client import DEPLOYMENTS, ENDPOINT_SLICES, ENDPOINTS, PODS, SERVICES, ApiClient, Informer
from localkube.controllers.deployment import Clock, DeploymentController, utc_now
from localkube.controllers.endpoints import EndpointsController
from localkube.controllers.endpointslices import SLICE_SELECTOR, EndpointSliceController

__all__ = ["DeploymentController", "EndpointSliceController", "EndpointsController", "run_controllers"]

log = logging.getLogger(__name__)


async def run_controllers(
    client: ApiClient,
    stop: asyncio.Event,
    *,
    workers: int = 4,
    clock: Clock | None = None,
) -> None:
    """Run the Deployment and Endpoints controllers against `client` until `stop` is set.

    `clock` (UTC now) is for tests that step time past a progress deadline.

    The controllers start working only once every informer has listed (kube's
    WaitForCacheSync), so a half-filled cache never makes them create pods twice.
    """
    pods = Informer(client, PODS, name="controllers:pods")
    deployments = Informer(client, DEPLOYMENTS, name="controllers:deployments")
    services = Informer(client, SERVICES, name="controllers:services")
    endpoints = Informer(client, ENDPOINTS, name="controllers:endpoints")
    slices = Informer(
        client, ENDPOINT_SLICES, label_selector=SLICE_SELECTOR, name="controllers:endpointslices"
    )
    informers = [pods, deployments, services, endpoints, slices]
    # Endpoints first: its pod handlers then run first, so a pod turning Ready reaches
    # Endpoints (the latency that matters) before the Deployment's status is updated.
    controllers: list[DeploymentController | EndpointsController | EndpointSliceController] = [
        EndpointsController(client, services, pods, endpoints, workers=workers),
        DeploymentController(client, deployments, pods, workers=workers, clock=clock or utc_now),
        EndpointSliceController(client, services, pods, slices),
    ]
    for informer in informers:
        informer.start()
    try:
        if not await _synced_unless_stopped(informers, stop):
            return
        log.info("controllers synced; starting")
        for controller in controllers:
            controller.start()
        await stop.wait()
    finally:
        for controller in controllers:
            await controller.stop()
        for informer in informers:
            await informer.stop()


async def _synced_unless_stopped(informers: list[Informer], stop: asyncio.Event) -> bool:
    """Wait until every informer has listed (True) or `stop` is set first (False)."""

    async def all_synced() -> None:
        for informer in informers:
            await informer.wait_synced()

    synced = asyncio.create_task(all_synced(), name="controllers:wait-synced")
    stopped = asyncio.create_task(stop.wait(), name="controllers:wait-stop")
    try:
        await asyncio.wait([synced, stopped], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (synced, stopped):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return not stop.is_set()
