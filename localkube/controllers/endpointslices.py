"""The EndpointSlice controller: the slices of every Service with a selector, kept current.

It shares the pod and Service informers with the Endpoints controller and has its own queue,
so its writes never delay Endpoints (which the gateway reads). Slices are owned by their
Service, so the API server's garbage collector removes them with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Mapping
from typing import Any

from localkube.client import ENDPOINT_SLICES, AlreadyExists, ApiClient, Informer, NotFound, object_key
from localkube.controllers import pods as podutil
from localkube.controllers.endpoints_plan import selector_of
from localkube.controllers.endpointslice_plan import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    desired_slices,
    slice_patch,
)
from localkube.controllers.runtime import KeyIndex, ReconcileLoop
from localkube.controllers.service_pods import SelectedPods

Obj = dict[str, Any]

log = logging.getLogger(__name__)

SLICE_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
# Slices are not on the latency path (the gateway reads Endpoints): gather bursts of pod
# changes into one write per Service, leaving the API server to the Endpoints writes first.
SLICE_BATCH_SECONDS = 0.05


def service_key_of_slice(endpoint_slice: Mapping[str, Any]) -> str | None:
    meta = podutil.meta(endpoint_slice)
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return f"{meta.get('namespace')}/{service}" if service else None


class EndpointSliceController:
    """Reconciles EndpointSlices; register before the informers start, then `start()` once synced.

    `slices` must be an informer on ENDPOINT_SLICES with label selector `SLICE_SELECTOR`.
    """

    def __init__(
        self,
        client: ApiClient,
        services: Informer,
        pods: Informer,
        slices: Informer,
        *,
        workers: int = 2,
    ) -> None:
        self._client = client
        self._services = services
        self._slices = slices
        self._slices_by_service = KeyIndex()
        self.loop = ReconcileLoop("endpointslice-controller", self.reconcile, workers=workers, logger=log)
        self._enqueue = functools.partial(self.loop.queue.add_after, delay=SLICE_BATCH_SECONDS)
        services.add_handlers(
            on_add=self._on_service, on_update=self._on_service_update, on_delete=self._on_service
        )
        slices.add_handlers(
            on_add=self._on_slice, on_update=self._on_slice_update, on_delete=self._on_slice_delete
        )
        self._selected = SelectedPods(services, pods, self._enqueue)

    def start(self) -> None:
        self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()

    # --- event handlers ------------------------------------------------------------------------

    async def _on_service(self, service: Obj) -> None:
        self._enqueue(object_key(service))

    async def _on_service_update(self, old: Obj, new: Obj) -> None:
        self._enqueue(object_key(new))

    async def _on_slice(self, endpoint_slice: Obj) -> None:
        key = service_key_of_slice(endpoint_slice)
        self._slices_by_service.set(object_key(endpoint_slice), key)
        if key is not None:
            self._enqueue(key)

    async def _on_slice_update(self, old: Obj, new: Obj) -> None:
        await self._on_slice(new)

    async def _on_slice_delete(self, endpoint_slice: Obj) -> None:
        self._slices_by_service.set(object_key(endpoint_slice), None)
        key = service_key_of_slice(endpoint_slice)
        if key is not None:
            self._enqueue(key)

    # --- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        namespace, _, _name = key.partition("/")
        service = self._services.get_by_key(key)
        current = {
            str(podutil.meta(s).get("name")): s
            for k in self._slices_by_service.get(key)
            if (s := self._slices.get_by_key(k)) is not None
        }
        if service is None or selector_of(service) is None:
            # Gone (the garbage collector takes owned slices too) or managed by hand: drop ours.
            await asyncio.gather(*(self._delete(name, namespace) for name in current))
            return None
        pods = self._selected.pods_in(namespace)
        desired = {s["metadata"]["name"]: s for s in desired_slices(service, pods)}
        await asyncio.gather(
            *(self._apply(body, current.get(name)) for name, body in desired.items()),
            *(self._delete(name, namespace) for name in current if name not in desired),
        )
        return None

    async def _apply(self, desired: Obj, current: Obj | None) -> None:
        namespace = str(desired["metadata"]["namespace"])
        name = str(desired["metadata"]["name"])
        if current is None:
            try:
                await self._client.create(ENDPOINT_SLICES, desired, namespace=namespace)
                return
            except AlreadyExists:
                current = await self._client.get(ENDPOINT_SLICES, name, namespace)
        patch = slice_patch(current, desired)
        if patch is not None:
            await self._client.patch(ENDPOINT_SLICES, name, patch, namespace)

    async def _delete(self, name: str, namespace: str) -> None:
        with contextlib.suppress(NotFound):
            await self._client.delete(ENDPOINT_SLICES, name, namespace)
