"""The gateway's routing facts from a cluster: KIngresses, revision Endpoints and Revisions.

Informers keep a cache of each; any change schedules one snapshot for the next loop turn (a
burst of events costs one rebuild), so a pod that turns Ready reaches the routing table within a
loop turn of its Endpoints event. After applying a snapshot, the replica that writes status (index 0
among the gateway replicas, see `peers.py`) marks Ready every KIngress of its class whose current
generation every replica serves: it asks each peer's admin `/served`, and until all of them serve
it the status says Unknown and it asks again with a growing delay. The route reconciler waits for
that Ready before it marks the Route (and the Service) Ready, so a Service never reports Ready
while its URL would still 404 on some replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp

from activator.ingress_status import ingress_status, served_by_all, served_key
from activator.peers import Peers, StaticPeers
from activator.source import Apply, ClusterSnapshot
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


class PeerPolicy(Protocol):
    def resolve(self, endpoints: Mapping[tuple[str, str], Mapping[str, Any]]) -> Peers:
        """This replica's place among the gateway replicas, given every Endpoints object by key."""
        ...


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    md = obj.get("metadata") or {}
    return (str(md.get("namespace", "")), str(md.get("name", "")))


class ClusterRoutingSource:
    """A `RoutingSource` over the Kubernetes API (localkube or a real cluster)."""

    def __init__(
        self,
        client: ApiClient,
        ingress_class: str,
        peers: PeerPolicy | None = None,
        *,
        write_status: bool = True,
        retry_s: tuple[float, float] = (0.05, 2.0),
        peer_timeout_s: float = 1.0,
    ) -> None:
        self._client = client
        self._ingress_class = ingress_class
        self._peers: PeerPolicy = peers or StaticPeers()
        self._write_status = write_status
        self._retry_s = retry_s
        self._peer_timeout_s = peer_timeout_s
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
        # What this replica last wrote per KIngress: (generation, ready).
        self._written: dict[tuple[str, str], tuple[int, bool]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def _changed_one(self, _obj: Mapping[str, Any]) -> None:
        self._dirty.set()

    async def _changed_two(self, _old: Mapping[str, Any], _new: Mapping[str, Any]) -> None:
        self._dirty.set()

    def _mine(self, ingress: Mapping[str, Any]) -> bool:
        annotations = (ingress.get("metadata") or {}).get("annotations") or {}
        return bool(annotations.get(CLASS_ANNOTATION, self._ingress_class) == self._ingress_class)

    def snapshot(self) -> ClusterSnapshot:
        return self._resolve()[0]

    def _resolve(self) -> tuple[ClusterSnapshot, Peers]:
        kingresses, endpoints, revisions = (informer.items() for informer in self._informers)
        peers = self._peers.resolve({_key(obj): obj for obj in endpoints})
        return ClusterSnapshot(tuple(kingresses), tuple(endpoints), tuple(revisions), peers.slot), peers

    async def run(self, apply: Apply) -> None:
        for informer in self._informers:
            informer.start()
        self._session = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=self._peer_timeout_s)
        )
        try:
            for informer in self._informers:
                await informer.wait_synced()
            delay = self._retry_s[0]
            while True:
                self._dirty.clear()
                snapshot, peers = self._resolve()
                apply(snapshot)
                waiting = False
                if self._write_status and peers.writes_status:
                    waiting = await self._report(snapshot, peers)
                if not waiting:
                    delay = self._retry_s[0]
                    await self._dirty.wait()
                    continue
                # Some replica does not serve a generation yet: ask again, sooner if anything changes.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._dirty.wait(), delay)
                delay = min(delay * 2, self._retry_s[1])
        finally:
            await self._session.close()
            for informer in self._informers:
                await informer.stop()

    async def _report(self, snapshot: ClusterSnapshot, peers: Peers) -> bool:
        """Write the status of each KIngress of our class that changed; True while one still waits
        for a replica to serve its generation."""
        todo = [
            ingress
            for ingress in snapshot.ingresses
            if self._mine(ingress) and not _is_ready_at(ingress, _generation(ingress))
        ]
        if not todo:
            return False
        # This replica serves exactly what it just applied; the others say so on their admin port.
        own = {served_key(*_key(ingress)): _generation(ingress) for ingress in snapshot.ingresses}
        answers = await asyncio.gather(*(self._served(url) for url in peers.others))
        if peers.refused_means_absent:
            answers = [answer for answer in answers if answer is not None]  # a down worker takes no traffic
        reports = [own, *(answer or {} for answer in answers)]
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        waiting = False
        for ingress in todo:
            key, generation = _key(ingress), _generation(ingress)
            ready = served_by_all(key[0], key[1], generation, reports)
            waiting = waiting or not ready
            observed = (ingress.get("status") or {}).get("observedGeneration")
            if self._written.get(key) == (generation, ready) or (not ready and observed == generation):
                continue
            body = {"status": ingress_status(generation, ready, now_rfc3339=now)}
            try:
                await self._client.patch(KINGRESSES, key[1], body, key[0], subresource="status")
            except ApiError as exc:
                if exc.status != 404:  # gone: nothing to write
                    log.warning("cannot write the status of KIngress %s/%s: %s", key[0], key[1], exc)
                    waiting = True  # written again with the backoff, not left for an unrelated change
                continue
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                # The API server restarting or a dropped connection must not end the routing
                # source (the gateway would serve a frozen table): try again with the backoff.
                log.warning("cannot write the status of KIngress %s/%s: %r", key[0], key[1], exc)
                waiting = True
                continue
            self._written[key] = (generation, ready)
        return waiting

    async def _served(self, admin_url: str) -> Mapping[str, int] | None:
        """A peer's `/served` report; one that cannot be asked serves nothing yet; None when
        nothing listens there (the connection is refused)."""
        assert self._session is not None
        try:
            async with self._session.get(f"{admin_url}/served") as response:
                response.raise_for_status()
                report = await response.json()
        except aiohttp.ClientConnectorError as exc:
            log.debug("gateway replica %s is not listening: %s", admin_url, exc)
            return None if isinstance(exc.os_error, ConnectionRefusedError) else {}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.debug("gateway replica %s cannot say what it serves: %s", admin_url, exc)
            return {}
        if not isinstance(report, dict):
            return {}
        return {str(k): int(v) for k, v in report.items() if isinstance(v, int)}
