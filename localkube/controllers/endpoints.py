"""The Endpoints controller: one Endpoints object per Service with a selector, kept current.

Every change to a Service, its Endpoints, or a pod in its namespace queues the Services it
touches; a worker computes the subsets with the pure `desired_subsets` and writes only a
difference. Pod readiness changes and deletions reach Endpoints as soon as their watch event
does: a pod being deleted leaves at once, before the kubelet signals it.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from localkube.client import ENDPOINTS, AlreadyExists, ApiClient, Informer, NotFound, object_key
from localkube.controllers.endpoints_plan import (
    desired_subsets,
    endpoints_body,
    endpoints_patch,
    selector_of,
)
from localkube.controllers.runtime import ReconcileLoop
from localkube.controllers.service_pods import SelectedPods

Obj = dict[str, Any]

log = logging.getLogger(__name__)


class EndpointsController:
    """Reconciles Endpoints; register before the informers start, then `start()` once synced."""

    def __init__(
        self,
        client: ApiClient,
        services: Informer,
        pods: Informer,
        endpoints: Informer,
        *,
        workers: int = 4,
    ) -> None:
        self._client = client
        self._services = services
        self._endpoints = endpoints
        self._managed: set[str] = set()  # Services (keys) whose Endpoints this controller writes
        self.loop = ReconcileLoop("endpoints-controller", self.reconcile, workers=workers, logger=log)
        services.add_handlers(
            on_add=self._on_object, on_update=self._on_object_update, on_delete=self._on_object
        )
        endpoints.add_handlers(on_update=self._on_object_update, on_delete=self._on_object)
        self._selected = SelectedPods(services, pods, self.loop.queue.add)

    def start(self) -> None:
        self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()

    # --- event handlers ------------------------------------------------------------------------

    async def _on_object(self, obj: Obj) -> None:
        self.loop.queue.add(object_key(obj))

    async def _on_object_update(self, old: Obj, new: Obj) -> None:
        self.loop.queue.add(object_key(new))

    # --- reconcile -----------------------------------------------------------------------------

    def pods_in(self, namespace: str) -> list[Obj]:
        return self._selected.pods_in(namespace)

    async def reconcile(self, key: str) -> float | None:
        namespace, _, name = key.partition("/")
        service = self._services.get_by_key(key)
        current = self._endpoints.get_by_key(key)
        if service is None:
            # kube deletes a deleted Service's Endpoints; only those we managed, so Endpoints
            # applied before their (selectorless) Service are left alone.
            if current is not None and key in self._managed:
                with contextlib.suppress(NotFound):
                    await self._client.delete(ENDPOINTS, name, namespace)
            self._managed.discard(key)
            return None
        if selector_of(service) is None:
            self._managed.discard(key)
            return None  # selectorless: Endpoints are managed by hand
        self._managed.add(key)
        subsets = desired_subsets(service, self.pods_in(namespace))
        if current is None:
            try:
                await self._client.create(ENDPOINTS, endpoints_body(service, subsets), namespace=namespace)
                return None
            except AlreadyExists:
                current = await self._client.get(ENDPOINTS, name, namespace)
        patch = endpoints_patch(current, service, subsets)
        if patch is not None:
            await self._client.patch(ENDPOINTS, name, patch, namespace)
        return None
