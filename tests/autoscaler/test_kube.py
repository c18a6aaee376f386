"""The autoscaler against a real localkube API server: informers in, scale and status out.

The fixture server has no controllers, so the tests play the Deployment controller (ready pods
follow the scale). The service's clock is injected: windows pass without waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from autoscaler import stats
from autoscaler.cluster import ClusterWatcher
from autoscaler.kube import PODAUTOSCALERS, KubeScaleWriter
from autoscaler.service import AutoscalerService
from autoscaler.writer import TargetGone
from localkube.client import CONFIGMAPS, DEPLOYMENTS, ApiClient, load_connection
from localkube.server.runner import ThreadedApiServer
from tests.autoscaler.kube_harness import (
    NS,
    SYSTEM,
    G,
    condition,
    create_revision,
    deployment_body,
    eventually,
    follow_scale,
    pa_status,
    prepare_cluster,
    scale_of,
    set_ready,
)
from tests.conftest import Kubectl

REV = "hello-00001"


class Clock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class Cluster:
    client: ApiClient
    service: AutoscalerService
    watcher: ClusterWatcher
    clock: Clock

    async def tick_for(self, seconds: int) -> None:
        """`seconds` of autoscaler time: the idle zeros each second, a tick every 2 s."""
        for _ in range(seconds // 2):
            self.clock.now += 2
            await self.service.tick()

    async def send(self, concurrency: float, revision: str = REV) -> None:
        await self.service.handle_stats(
            stats.parse_stats(
                {
                    "gateway": "gw-1",
                    "timestamp": self.clock.now,
                    "stats": [
                        {"namespace": NS, "revision": revision, "concurrency": concurrency, "requests": 1}
                    ],
                }
            )
        )


@pytest.fixture
async def client(apiserver: ThreadedApiServer) -> AsyncIterator[ApiClient]:
    connection = load_connection(str(apiserver.kubeconfig))
    async with ApiClient(connection, keep_warm_seconds=None) as api:
        await prepare_cluster(api)
        yield api


@pytest.fixture
async def cluster(client: ApiClient) -> AsyncIterator[Cluster]:
    await client.create(CONFIGMAPS, {"metadata": {"name": "config-autoscaler"}, "data": {}}, SYSTEM)
    clock = Clock()
    service = AutoscalerService(KubeScaleWriter(client), CollectorRegistry(), clock=clock)
    async with ClusterWatcher(client, service) as watcher:
        yield Cluster(client, service, watcher, clock)


async def test_traffic_scales_the_deployment_and_idle_brings_it_to_zero(
    cluster: Cluster, kubectl: Kubectl
) -> None:
    client, service = cluster.client, cluster.service
    await create_revision(client, REV, replicas=1, container_concurrency=1)
    # The PA's arrival is decided at once, no tick: its pod is ready, so Active; no metrics yet,
    # so the desired scale is unknown (-1), as Knative writes it.
    await eventually(lambda: _status_is(client, desired=-1, actual=1, active="True"))
    await cluster.tick_for(2)
    await eventually(lambda: _status_is(client, desired=1, actual=1, active="True"))
    status = await pa_status(client, REV)
    assert status["observedGeneration"] == 1
    assert condition(status, "Ready")["status"] == "True"
    assert condition(status, "ScaleTargetInitialized")["status"] == "True"

    # 5 requests in flight with containerConcurrency 1 (target 0.7 per pod), after two idle
    # seconds: the averages put it at 6 pods (8 when the windows hold only traffic).
    for _ in range(4):
        cluster.clock.now += 1
        await cluster.send(5.0)
    cluster.clock.now += 0.5
    decision = (await service.tick()).decision(0)
    assert decision.want == 6
    assert await scale_of(client, REV) == 6
    assert await follow_scale(client, REV) == 6
    # Ready pods reach the status from the Deployment's watch event, without a tick.
    await eventually(lambda: _status_is(client, desired=6, actual=6, active="True"))

    table = kubectl.run("get", "kpa", REV, "-n", NS).stdout.split("\n")
    assert table[0].split() == ["NAME", "DESIREDSCALE", "ACTUALSCALE", "READY", "REASON"]
    assert table[1].split()[:4] == [REV, "6", "6", "True"]

    # No traffic: after the (6 s minimum here) stable window and the scale-down limits, zero.
    for _ in range(60):
        await cluster.tick_for(2)
        await follow_scale(client, REV)
        if await scale_of(client, REV) == 0:
            break
    assert await scale_of(client, REV) == 0
    await eventually(lambda: _status_is(client, desired=0, actual=0, active="False"))
    status = await pa_status(client, REV)
    assert condition(status, "Active")["reason"] == "NoTraffic"
    assert condition(status, "Ready")["status"] == "False"
    assert service.last_desired(NS, REV) == 0

    # A poke between ticks scales it from zero at once, and the status says Queued.
    cluster.clock.now += 0.3
    assert await service.poke(NS, REV)
    assert await scale_of(client, REV) == 1
    status = await pa_status(client, REV)
    assert condition(status, "Active")["status"] == "Unknown"
    assert condition(status, "Active")["reason"] == "Queued"
    await set_ready(client, REV, 1)
    await eventually(lambda: _status_is(client, desired=1, actual=1, active="True"))


async def _status_is(client: ApiClient, *, desired: int, actual: int, active: str) -> bool:
    status = await pa_status(client, REV)
    return (
        status.get("desiredScale") == desired
        and status.get("actualScale") == actual
        and condition(status, "Active").get("status") == active
    )


async def test_stats_for_a_revision_at_zero_scale_it_at_once(cluster: Cluster) -> None:
    client = cluster.client
    # Zero initial scale (allowed by config) puts the revision at zero from the start.
    await client.patch(
        CONFIGMAPS, "config-autoscaler", {"data": {"allow-zero-initial-scale": "true"}}, SYSTEM
    )
    await eventually(lambda: cluster.service.config.allow_zero_initial_scale)
    await create_revision(client, REV, replicas=0, annotations={f"{G}/initial-scale": "0"})
    await eventually(lambda: cluster.service.has_revision(NS, REV))
    await cluster.tick_for(2)
    # No pods, so no data: the desired scale is unknown, the revision inactive.
    await eventually(lambda: _status_is(client, desired=-1, actual=0, active="False"))
    assert condition(await pa_status(client, REV), "Active")["reason"] == "NoTraffic"
    cluster.clock.now += 0.7
    await cluster.send(2.0)
    assert await scale_of(client, REV) >= 1


async def test_config_maps_reload_and_a_bad_one_is_refused(cluster: Cluster) -> None:
    client, service = cluster.client, cluster.service
    assert service.config.stable_window == 60.0
    await client.patch(CONFIGMAPS, "config-autoscaler", {"data": {"stable-window": "6s"}}, SYSTEM)
    await eventually(lambda: service.config.stable_window == 6.0)
    await client.patch(CONFIGMAPS, "config-autoscaler", {"data": {"stable-window": "2s"}}, SYSTEM)
    await client.create(
        CONFIGMAPS, {"metadata": {"name": "config-deployment"}, "data": {"progress-deadline": "45s"}}, SYSTEM
    )
    await eventually(lambda: service.progress_deadline == 45.0)
    assert service.config.stable_window == 6.0  # 2 s is out of range: the previous config stands
    await client.patch(CONFIGMAPS, "config-deployment", {"data": {"progress-deadline": "soon"}}, SYSTEM)
    await client.delete(CONFIGMAPS, "config-autoscaler", SYSTEM)
    await eventually(lambda: service.config.stable_window == 60.0)  # deleted: defaults
    assert service.progress_deadline == 45.0


async def test_a_spec_change_is_taken_up_and_observed_in_the_status(cluster: Cluster) -> None:
    client, service = cluster.client, cluster.service
    await create_revision(client, REV, replicas=1)
    await eventually(lambda: service.has_revision(NS, REV))
    await cluster.tick_for(2)
    await eventually(lambda: _status_is(client, desired=1, actual=1, active="True"))
    await client.patch(
        PODAUTOSCALERS,
        REV,
        {"metadata": {"annotations": {f"{G}/min-scale": "3"}}, "spec": {"containerConcurrency": 5}},
        NS,
    )

    async def generation_two() -> bool:
        return (await pa_status(client, REV)).get("observedGeneration") == 2

    await eventually(generation_two)  # decided on the event: min-scale 3 applies at once
    assert await scale_of(client, REV) == 3
    assert service.revisions() and cluster.watcher.podautoscalers.get(REV, NS) is not None


async def test_a_deleted_deployment_is_forgotten_and_taken_up_when_it_returns(cluster: Cluster) -> None:
    client, service = cluster.client, cluster.service
    await create_revision(client, REV, replicas=1)
    await eventually(lambda: service.has_revision(NS, REV))
    await cluster.tick_for(2)
    await eventually(lambda: _status_is(client, desired=1, actual=1, active="True"))
    await client.delete(DEPLOYMENTS, f"{REV}-deployment", NS)
    await eventually(lambda: not service.has_revision(NS, REV))
    await cluster.tick_for(4)  # nothing to write, nothing crashes
    await client.create(DEPLOYMENTS, deployment_body(REV, 0), NS)
    await eventually(lambda: service.has_revision(NS, REV))
    for _ in range(2):
        cluster.clock.now += 1
        await cluster.send(3.0)
    await cluster.tick_for(2)
    assert await scale_of(client, REV) >= 1  # the new Deployment is scaled


async def test_a_deleted_podautoscaler_stops_the_scaling(cluster: Cluster) -> None:
    client, service = cluster.client, cluster.service
    await create_revision(client, REV, replicas=1)
    await eventually(lambda: service.has_revision(NS, REV))
    await client.delete(PODAUTOSCALERS, REV, NS)
    await eventually(lambda: not service.has_revision(NS, REV))
    assert service.revisions() == []


async def test_the_writer_maps_missing_objects_to_target_gone(client: ApiClient) -> None:
    writer = KubeScaleWriter(client)
    with pytest.raises(TargetGone):
        await writer.set_scale(NS, "nothing-deployment", 1)
    await client.create(DEPLOYMENTS, deployment_body(REV, 0), NS)
    await writer.set_scale(NS, f"{REV}-deployment", 2)
    assert await scale_of(client, REV) == 2
    deployment = await client.get(DEPLOYMENTS, f"{REV}-deployment", NS)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "example.com/hello"
