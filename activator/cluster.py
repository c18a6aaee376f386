"""The gateway's routing facts from a cluster: KIngresses, revision Endpoints and Revisions.

Informers keep a cache of each; any change schedules one snapshot for the next loop turn (a
burst of events costs one rebuild), so a pod that turns Ready reaches the routing table within a
loop turn of its Endpoints event. After applying a snapshot, this replica writes the status of
every KIngress of its class whose current generation it now serves: Ready, as the route
reconciler waits for before it marks the Route (and the Service) Ready.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping
from typing import Any

from activator.ingress_status import ingress_status
from activator.source import Apply, ClusterSnapshot
from activator.subsetting import ReplicaSlot
from localkube.client import ENDPOINTS, ApiClient, ApiError, Informer, Resource

log = logging.getLogger("kwake.gateway.cluster")

KINGRESSES = Resource("networking.internal.knative.dev", "v1alpha1", "ingresses", True, "Ingress")
REVISIONS = Resource("serving.knative.dev", "v1", "revisions", True, "Revision")
CLASS_ANNOTATION = "networking.knative.dev/ingress.class"


def _generation(obj: Mapping[str, Any]) -> int:
    return int((obj.get("metadata") or {}).get("generation") or 0)


def _is_ready_at(obj: Mapping[str, Any], generation: int) -> bool:
    status = obj.get("status") or {}
    if status.get("observedGeneration") != generation:
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


class ClusterRoutingSource:
    """A `RoutingSource` over the Kubernetes API (localkube or a real cluster)."""

    def __init__(
        self,
        client: ApiClient,
        ingress_class: str,
        slot: ReplicaSlot | None = None,
        *,
        write_status: bool = True,
    ) -> None:
        self._client = client
        self._ingress_class = ingress_class
        self._slot = slot or ReplicaSlot()
        self._write_status = write_status
        self._dirty = asyncio.Event()
        self._informers = [
            Informer(
                client,
                resource,
                on_add=self._changed_one,
                on_update=self._changed_two,
                on_delete=self._changed_one,
                name=f"gateway:{resource.plural}",
            )
            for resource in (KINGRESSES, ENDPOINTS, REVISIONS)
        ]
        self._written: dict[tuple[str, str], int] = {}

    async def _changed_one(self, _obj: Mapping[str, Any]) -> None:
        self._dirty.set()

    async def _changed_two(self, _old: Mapping[str, Any], _new: Mapping[str, Any]) -> None:
        self._dirty.set()

    def _mine(self, ingress: Mapping[str, Any]) -> bool:
        annotations = (ingress.get("metadata") or {}).get("annotations") or {}
        return bool(annotations.get(CLASS_ANNOTATION, self._ingress_class) == self._ingress_class)

    def snapshot(self) -> ClusterSnapshot:
        kingresses, endpoints, revisions = (informer.items() for informer in self._informers)
        return ClusterSnapshot(tuple(kingresses), tuple(endpoints), tuple(revisions), self._slot)

    async def run(self, apply: Apply) -> None:
        for informer in self._informers:
            informer.start()
        try:
            for informer in self._informers:
                await informer.wait_synced()
            while True:
                self._dirty.clear()
                snapshot = self.snapshot()
                apply(snapshot)
                if self._write_status:
                    await self._report(snapshot)
                await self._dirty.wait()
        finally:
            for informer in self._informers:
                await informer.stop()

    async def _report(self, snapshot: ClusterSnapshot) -> None:
        """Mark Ready each KIngress of our class whose current generation this replica now serves."""
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for ingress in snapshot.ingresses:
            if not self._mine(ingress):
                continue
            md = ingress.get("metadata") or {}
            key = (str(md.get("namespace", "")), str(md.get("name", "")))
            generation = _generation(ingress)
            if _is_ready_at(ingress, generation) or self._written.get(key) == generation:
                continue
            body = {"status": ingress_status(generation, True, now_rfc3339=now)}
            try:
                await self._client.patch(KINGRESSES, key[1], body, key[0], subresource="status")
            except ApiError as exc:
                if exc.status != 404:
                    log.warning("cannot write the status of KIngress %s/%s: %s", key[0], key[1], exc)
                continue
            self._written[key] = generation
