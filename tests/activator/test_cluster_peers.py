"""Gateway replicas in a cluster: each finds its slot in the gateway's Endpoints, and a KIngress
is Ready only once every listed replica serves its generation (issue #5).

The cluster is a real localkube; the two replicas are real gateways with their admin servers on
127.0.0.1 and 127.0.0.2 (both loopback on Linux), listed in kwake-system/kwake-gateway-admin
as the Endpoints controller would list two gateway pods.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest

from activator.app import build_app
from activator.cluster import KINGRESSES, ClusterRoutingSource
from activator.config import GatewayConfig
from activator.peers import EndpointsPeers, StaticPeers, peers_from_endpoints
from activator.server import GatewayServer
from activator.subsetting import ReplicaSlot
from localkube.client import ENDPOINTS, NAMESPACES, ApiClient, ApiError, Resource, load_connection
from localkube.server.runner import ThreadedApiServer
from tests.activator import objects as o
from tests.activator.polling import free_port
from tests.serving.operator_harness import install_crds

SYSTEM = "kwake-system"
PEERS = "kwake-gateway-admin"


def _admin_endpoints(addresses: Mapping[str, int]) -> dict[str, Any]:
    subsets = [
        {"addresses": [{"ip": ip}], "ports": [{"name": "admin", "port": port}]}
        for ip, port in addresses.items()
    ]
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": PEERS, "namespace": SYSTEM},
        "subsets": subsets,
    }


def test_replicas_take_their_index_from_their_ip_in_numeric_order() -> None:
    listed = _admin_endpoints({"10.0.0.10": 9090, "10.0.0.9": 9090, "10.0.1.2": 9090})
    first = peers_from_endpoints(listed, "10.0.0.9", "admin")
    assert first.slot == ReplicaSlot(0, 3) and first.writes_status
    assert first.others == ("http://10.0.0.10:9090", "http://10.0.1.2:9090")
    last = peers_from_endpoints(listed, "10.0.1.2", "admin")
    assert last.slot == ReplicaSlot(2, 3) and not last.writes_status


def test_a_replica_not_listed_uses_every_pod_and_writes_nothing() -> None:
    unlisted = peers_from_endpoints(_admin_endpoints({"10.0.0.1": 9090}), "10.0.0.2", "admin")
    assert unlisted.slot.index == -1 and not unlisted.writes_status and unlisted.others == ()
    assert peers_from_endpoints(None, "10.0.0.2", "admin").slot == ReplicaSlot(-1, 1)


def test_without_the_peers_endpoints_a_pod_acts_as_the_only_replica() -> None:
    alone = EndpointsPeers(SYSTEM, PEERS, "10.0.0.2").resolve({})
    assert alone.slot == ReplicaSlot(0, 1) and alone.writes_status and alone.others == ()


def test_workers_of_each_pod_are_replicas_with_consecutive_admin_ports() -> None:
    listed = _admin_endpoints({"10.0.0.1": 9090, "10.0.0.2": 9090})
    peers = peers_from_endpoints(listed, "10.0.0.2", "admin", worker=1, workers=2)
    assert peers.slot == ReplicaSlot(3, 4)
    assert peers.others == ("http://10.0.0.1:9090", "http://10.0.0.1:9091", "http://10.0.0.2:9090")
    local = StaticPeers(1, 3, admin_port=7000).resolve({})
    assert local.slot == ReplicaSlot(1, 3) and not local.writes_status
    assert local.others == ("http://127.0.0.1:7000", "http://127.0.0.1:7002")


def _ready(ingress: Mapping[str, Any], generation: int) -> str | None:
    status = ingress.get("status") or {}
    if status.get("observedGeneration") != generation:
        return None
    return next((c["status"] for c in status.get("conditions") or [] if c["type"] == "Ready"), None)


@pytest.fixture
async def client(apiserver: ThreadedApiServer) -> AsyncIterator[ApiClient]:
    api = ApiClient(load_connection(str(apiserver.kubeconfig)))
    try:
        await install_crds(api)
        await api.create(NAMESPACES, {"metadata": {"name": SYSTEM}})
        yield api
    finally:
        await api.close()


async def _replica(
    stack: AsyncExitStack, apiserver: ThreadedApiServer, ip: str, admin_port: int
) -> tuple[GatewayServer, ClusterRoutingSource]:
    api = ApiClient(load_connection(str(apiserver.kubeconfig)))
    stack.push_async_callback(api.close)
    source = ClusterRoutingSource(api, "kwake", EndpointsPeers(SYSTEM, PEERS, ip), retry_s=(0.02, 0.2))
    server = GatewayServer(build_app(GatewayConfig(), source), host=ip, admin_port=admin_port)
    await server.start()
    stack.push_async_callback(server.drain)
    return server, source


async def _wait_for(client: ApiClient, generation: int, want: str, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        # The status is written by the gateway with no event we can wait on here: poll the API.
        while _ready(await client.get(KINGRESSES, "hello", "default"), generation) != want:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_kingress_is_ready_only_once_every_listed_replica_serves_it(
    apiserver: ThreadedApiServer, client: ApiClient
) -> None:
    ports = {"127.0.0.1": free_port("127.0.0.1"), "127.0.0.2": free_port("127.0.0.2")}
    await client.create(ENDPOINTS, _admin_endpoints(ports), SYSTEM)
    async with AsyncExitStack() as stack:
        _, first = await _replica(stack, apiserver, "127.0.0.1", ports["127.0.0.1"])
        await client.create(
            KINGRESSES, o.ingress("hello", ["hello.example.com"], [o.path([o.split("hello-1", 100)])])
        )
        # Replica 0 serves it and says so, but replica 1 is listed and not up: not Ready yet.
        await _wait_for(client, 1, "Unknown")
        await asyncio.sleep(0.3)
        assert _ready(await client.get(KINGRESSES, "hello", "default"), 1) == "Unknown"
        assert first.snapshot().slot == ReplicaSlot(0, 2)

        _, second = await _replica(stack, apiserver, "127.0.0.2", ports["127.0.0.2"])
        await _wait_for(client, 1, "True")
        assert second.snapshot().slot == ReplicaSlot(1, 2)

        # A new generation waits for both again, and both serve it within a loop turn or two.
        ingress = await client.get(KINGRESSES, "hello", "default")
        ingress["spec"]["rules"][0]["hosts"].append("hello.default.svc")
        await client.replace(KINGRESSES, ingress, "default")
        await _wait_for(client, 2, "True")

        # Replica 1 leaves the Endpoints (draining): replica 0 alone decides the next generation.
        await client.replace(ENDPOINTS, _admin_endpoints({"127.0.0.1": ports["127.0.0.1"]}), SYSTEM)
        async with asyncio.timeout(10):
            while first.snapshot().slot != ReplicaSlot(0, 1):  # noqa: ASYNC110
                await asyncio.sleep(0.02)


async def test_a_worker_that_is_down_does_not_hold_back_ready(
    apiserver: ThreadedApiServer, client: ApiClient
) -> None:
    """Workers of one host: worker 1's admin port refuses (it is down, so it takes no traffic
    either); worker 0 alone decides. A pod listed in Endpoints that refuses holds Ready back
    instead (the test above)."""
    api = ApiClient(load_connection(str(apiserver.kubeconfig)))
    async with _worker_zero(api, workers=2):
        await client.create(KINGRESSES, _hello())
        await _wait_for(client, 1, "True")


def _hello() -> dict[str, Any]:
    return o.ingress("hello", ["hello.example.com"], [o.path([o.split("hello-1", 100)])])


@contextlib.asynccontextmanager
async def _worker_zero(api: ApiClient, *, workers: int) -> AsyncIterator[GatewayServer]:
    """Worker 0 of `workers` on this host, its routes and status from `api` (closed after)."""
    admin = free_port()
    source = ClusterRoutingSource(
        api, "kwake", StaticPeers(0, workers, admin_port=admin), retry_s=(0.02, 0.2)
    )
    server = GatewayServer(build_app(GatewayConfig(), source), admin_port=admin)
    await server.start()
    try:
        yield server
    finally:
        await server.drain()
        await api.close()


class _FirstStatusWritesFail(ApiClient):
    """A real client to a real localkube whose first KIngress status writes fail the way a
    restarting API server's do (a 500, a dropped connection): injected faults, nothing else."""

    def __init__(self, kubeconfig: str, faults: list[BaseException]) -> None:
        super().__init__(load_connection(kubeconfig))
        self.faults = faults

    async def patch(
        self, resource: Resource, name: str, patch: Any, namespace: str | None = None, **options: Any
    ) -> dict[str, Any]:
        if options.get("subresource") == "status" and self.faults:
            raise self.faults.pop(0)
        return await super().patch(resource, name, patch, namespace, **options)


@pytest.mark.parametrize(
    "fault",
    [ApiError(500, "InternalError", "etcdserver: leader changed", {}), aiohttp.ServerDisconnectedError()],
    ids=["500", "disconnected"],
)
async def test_a_failed_status_write_is_retried_and_the_source_keeps_running(
    apiserver: ThreadedApiServer, client: ApiClient, fault: BaseException
) -> None:
    api = _FirstStatusWritesFail(str(apiserver.kubeconfig), [fault, fault])
    async with _worker_zero(api, workers=1):
        await client.create(KINGRESSES, _hello())
        # Nothing else changes after the two failed writes: only a retry can make it Ready.
        await _wait_for(client, 1, "True")
        assert api.faults == []
        # The source still follows the cluster: a new generation is written too.
        ingress = await client.get(KINGRESSES, "hello", "default")
        ingress["spec"]["rules"][0]["hosts"].append("hello.default.svc")
        await client.replace(KINGRESSES, ingress, "default")
        await _wait_for(client, 2, "True")
