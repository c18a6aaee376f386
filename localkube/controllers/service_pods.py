"""Which Services a pod change touches, for the controllers that derive objects from a
Service's selected pods (Endpoints, EndpointSlices).

It indexes pods by namespace and, on every pod event, hands each Service in that namespace
whose selector matches (before or after a label change) to the controller's `enqueue`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from localkube.client import Informer, object_key
from localkube.controllers import pods as podutil
from localkube.controllers.endpoints_plan import selector_of, selects
from localkube.controllers.runtime import KeyIndex

Obj = dict[str, Any]


class SelectedPods:
    """Registers pod handlers on `pods`; `enqueue(service_key)` for each Service a change touches."""

    def __init__(self, services: Informer, pods: Informer, enqueue: Callable[[str], None]) -> None:
        self._services = services
        self._pods = pods
        self._enqueue = enqueue
        self._by_namespace = KeyIndex()
        pods.add_handlers(on_add=self._on_pod, on_update=self._on_pod_update, on_delete=self._on_pod_delete)

    def pods_in(self, namespace: str) -> list[Obj]:
        return [p for k in self._by_namespace.get(namespace) if (p := self._pods.get_by_key(k)) is not None]

    def _enqueue_services_selecting(self, pod: Mapping[str, Any]) -> None:
        namespace = podutil.meta(pod).get("namespace")
        for service in self._services.items():
            if podutil.meta(service).get("namespace") != namespace:
                continue
            selector = selector_of(service)
            if selector is not None and selects(selector, pod):
                self._enqueue(object_key(service))

    async def _on_pod(self, pod: Obj) -> None:
        self._by_namespace.set(object_key(pod), str(podutil.meta(pod).get("namespace") or ""))
        self._enqueue_services_selecting(pod)

    async def _on_pod_update(self, old: Obj, new: Obj) -> None:
        await self._on_pod(new)
        if (podutil.meta(old).get("labels") or {}) != (podutil.meta(new).get("labels") or {}):
            self._enqueue_services_selecting(old)

    async def _on_pod_delete(self, pod: Obj) -> None:
        self._by_namespace.set(object_key(pod), None)
        self._enqueue_services_selecting(pod)
