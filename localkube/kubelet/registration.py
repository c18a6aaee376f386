"""How the kubelet announces itself: its Node (status, daemon endpoint), the Lease it renews,
and the MutatingWebhookConfiguration that sends it every pod CREATE for port assignment.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from typing import Any

import aiohttp

from localkube.client import (
    LEASES,
    MUTATING_WEBHOOKS,
    NAMESPACES,
    NODES,
    AlreadyExists,
    ApiClient,
    ApiError,
    NotFound,
)
from localkube.kubelet import clock as clocks
from localkube.kubelet import node, server

log = logging.getLogger(__name__)

WEBHOOK_CONFIG = "localkube-kubelet"
WEBHOOK_NAME = "pods.kubelet.localkube.io"
DEFAULT_NODE = "localkube"


def webhook_config_name(node_name: str) -> str:
    """One configuration per node, so kubelets of other nodes neither replace nor remove it.

    Each pod is then seen by every kubelet's webhook; the first assigns its ports, and the others
    see the annotation and leave it alone.
    """
    return WEBHOOK_CONFIG if node_name == DEFAULT_NODE else f"{WEBHOOK_CONFIG}-{node_name}"


class NodeTaken(RuntimeError):
    """Another live kubelet already serves this Node."""


def webhook_configuration(node_name: str, port: int, ca_pem: bytes) -> dict[str, Any]:
    """The MutatingWebhookConfiguration for pod CREATEs, served on 127.0.0.1:port over HTTPS."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": webhook_config_name(node_name)},
        "webhooks": [
            {
                "name": WEBHOOK_NAME,
                "clientConfig": {
                    "url": f"https://127.0.0.1:{port}{server.MUTATE_PATH}",
                    "caBundle": base64.b64encode(ca_pem).decode(),
                },
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods"],
                        "scope": "Namespaced",
                    }
                ],
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 10,
                "reinvocationPolicy": "Never",
                "matchPolicy": "Equivalent",
            }
        ],
    }


class Registration:
    """The Node, Lease and webhook of one kubelet whose HTTPS server listens on `port`."""

    def __init__(self, client: ApiClient, node_name: str, port: int, clock: clocks.Clock) -> None:
        self._client = client
        self._name = node_name
        self._port = port
        self._clock = clock
        self._since = clocks.rfc3339(clock.wall())
        self.node_uid = ""
        self.webhook_registered = False

    async def register_node(self) -> None:
        existing = await self._client.get_or_none(NODES, self._name)
        if existing is not None:
            await self._refuse_if_served(existing)
        try:
            created = await self._client.create(NODES, node.node_object(self._name))
        except AlreadyExists:
            created = await self._client.get(NODES, self._name)
        self.node_uid = str((created.get("metadata") or {}).get("uid") or "")
        await self.post_status()

    async def _refuse_if_served(self, existing: dict[str, Any]) -> None:
        """Two kubelets for one Node would both run its pods: refuse to be the second."""
        endpoint = ((existing.get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}
        port = int(endpoint.get("Port") or 0)
        if not port or port == self._port:
            return
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(
                    f"https://127.0.0.1:{port}/healthz", ssl=False, timeout=aiohttp.ClientTimeout(total=1)
                ) as response,
            ):
                alive = response.status == 200
        except (aiohttp.ClientError, OSError, TimeoutError):
            return
        if alive:
            raise NodeTaken(
                f"a kubelet for node {self._name!r} already runs (HTTPS on 127.0.0.1:{port}); "
                "stop it or choose another node name"
            )

    async def post_status(self, *, ready: bool = True) -> None:
        now = clocks.rfc3339(self._clock.wall())
        if not ready:
            self._since = now
        status = node.node_status(self._name, self._port, now, ready=ready, since=self._since)
        await self._client.patch(NODES, self._name, {"status": status}, subresource="status")

    async def renew_lease(self) -> None:
        renew = node.micro_time(self._clock)
        try:
            await self._client.patch(LEASES, self._name, {"spec": {"renewTime": renew}}, node.LEASE_NAMESPACE)
            return
        except NotFound:
            pass
        lease = node.lease_object(self._name, self.node_uid, renew)
        try:
            await self._client.create(LEASES, lease, node.LEASE_NAMESPACE)
        except NotFound:
            with contextlib.suppress(AlreadyExists):
                await self._client.create(NAMESPACES, {"metadata": {"name": node.LEASE_NAMESPACE}})
            await self._client.create(LEASES, lease, node.LEASE_NAMESPACE)

    async def heartbeat(self) -> None:
        """Renew the Lease every 10 s and re-post the Node status every 40 s, until cancelled."""
        beats = 0
        while True:
            try:
                await self.renew_lease()
                if beats % 4 == 3:
                    await self.post_status()
            except (ApiError, aiohttp.ClientError, OSError) as error:
                log.warning("kubelet heartbeat failed: %s", error)
            beats += 1
            await self._clock.sleep(node.HEARTBEAT_SECONDS)

    async def register_webhook(self, ca_pem: bytes) -> None:
        config = webhook_configuration(self._name, self._port, ca_pem)
        try:
            await self._client.create(MUTATING_WEBHOOKS, config)
        except AlreadyExists:
            current = await self._client.get(MUTATING_WEBHOOKS, webhook_config_name(self._name))
            config["metadata"]["resourceVersion"] = (current.get("metadata") or {}).get("resourceVersion")
            await self._client.replace(MUTATING_WEBHOOKS, config)
        self.webhook_registered = True

    async def unregister(self, *, keep_webhook: bool) -> None:
        """Report the Node not ready and (unless kept) remove the webhook; only what we made."""
        if not self.node_uid:
            return  # never registered (e.g. another kubelet serves the node): touch nothing
        with contextlib.suppress(NotFound):
            await self.post_status(ready=False)
        if self.webhook_registered and not keep_webhook:
            with contextlib.suppress(NotFound):
                await self._client.delete(MUTATING_WEBHOOKS, webhook_config_name(self._name))
