"""Leader election on the kwake-autoscaler Lease against a real localkube API server, and the
service's standby mode (decides, never writes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from autoscaler.leader import LEASE_NAME, LeaderElector, LeaseTimings
from autoscaler.service import AutoscalerService
from autoscaler.writer import InMemoryScaleWriter
from localkube.client import LEASES, ApiClient, cancel_and_wait, create_guarded_task, load_connection
from localkube.server.runner import ThreadedApiServer
from tests.autoscaler.kube_harness import SYSTEM, eventually, prepare_cluster

FAST = LeaseTimings(lease_duration=15.0, renew_deadline=10.0, retry_period=0.05)


class MonotonicClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client(apiserver: ThreadedApiServer) -> AsyncIterator[ApiClient]:
    async with ApiClient(load_connection(str(apiserver.kubeconfig)), keep_warm_seconds=None) as api:
        await prepare_cluster(api)
        yield api


def elector(client: ApiClient, identity: str, changes: list[bool], **kwargs: object) -> LeaderElector:
    return LeaderElector(
        client,
        namespace=SYSTEM,
        identity=identity,
        on_change=changes.append,
        timings=kwargs.pop("timings", FAST),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


async def holder(client: ApiClient) -> str:
    lease = await client.get(LEASES, LEASE_NAME, SYSTEM)
    return str(lease["spec"].get("holderIdentity") or "")


async def test_one_candidate_leads_and_a_released_lease_passes_at_once(client: ApiClient) -> None:
    a_changes: list[bool] = []
    b_changes: list[bool] = []
    a, b = elector(client, "a", a_changes), elector(client, "b", b_changes)
    a_task = create_guarded_task(a.run(), "elector-a")
    await eventually(lambda: a.leading)
    b_task = create_guarded_task(b.run(), "elector-b")
    try:
        for _ in range(5):  # b tries a few rounds and stays a follower
            await asyncio.sleep(FAST.retry_period)
        assert not b.leading and b_changes == []
        assert await holder(client) == "a"
        await cancel_and_wait([a_task])  # a stops and releases the Lease
        assert a_changes == [True, False]
        # Well within the 15 s lease duration: b need not wait for the Lease to expire.
        await eventually(lambda: b.leading, within=3.0)
        assert await holder(client) == "b"
        lease = await client.get(LEASES, LEASE_NAME, SYSTEM)
        assert lease["spec"]["leaseTransitions"] == 1  # a created it (0), b took it over (1)
    finally:
        await cancel_and_wait([a_task, b_task])


async def test_a_silent_holder_is_replaced_after_the_lease_duration(client: ApiClient) -> None:
    clock = MonotonicClock()
    await client.create(
        LEASES,
        {
            "metadata": {"name": LEASE_NAME, "namespace": SYSTEM},
            "spec": {
                "holderIdentity": "ghost",
                "leaseDurationSeconds": 15,
                "renewTime": "2020-01-01T00:00:00.000000Z",  # clocks are never compared
                "leaseTransitions": 3,
            },
        },
        SYSTEM,
    )
    candidate = elector(client, "c", [], clock=clock)
    assert await candidate.try_acquire_or_renew() == "follower"
    clock.now += 14.0
    assert await candidate.try_acquire_or_renew() == "follower"
    clock.now += 1.5  # the record has not changed for 15.5 s of our own time
    assert await candidate.try_acquire_or_renew() == "leader"
    lease = await client.get(LEASES, LEASE_NAME, SYSTEM)
    assert (lease["spec"]["holderIdentity"], lease["spec"]["leaseTransitions"]) == ("c", 4)
    assert await candidate.try_acquire_or_renew() == "leader"  # a renewal keeps the transitions
    assert (await client.get(LEASES, LEASE_NAME, SYSTEM))["spec"]["leaseTransitions"] == 4


async def test_a_leader_that_sees_another_holder_steps_down(client: ApiClient) -> None:
    changes: list[bool] = []
    leader = elector(client, "a", changes)
    task = create_guarded_task(leader.run(), "elector-a")
    try:
        await eventually(lambda: leader.leading)
        await client.patch(LEASES, LEASE_NAME, {"spec": {"holderIdentity": "usurper"}}, SYSTEM)
        await eventually(lambda: not leader.leading, within=3.0)
        assert changes == [True, False]
    finally:
        await cancel_and_wait([task])
    assert await holder(client) == "usurper"  # a does not release what it no longer holds


async def test_a_standby_decides_but_writes_nothing_until_it_leads() -> None:
    now = [1_700_000_000.0]
    writer = InMemoryScaleWriter()
    service = AutoscalerService(writer, CollectorRegistry(), clock=lambda: now[0])
    service.set_leading(False)
    service.upsert_revision("default", "r", annotations={"autoscaling.knative.dev/min-scale": "2"}, ready=1)
    for _ in range(3):
        now[0] += 2
        assert (await service.tick()).decision(0).want == 2
    assert writer.scales == {} and writer.statuses == {}
    service.set_leading(True)
    now[0] += 2
    await service.tick()
    assert writer.scales == {("default", "r-deployment"): 2}
    assert writer.statuses[("default", "r")].desired_scale == 2


async def test_a_standby_taking_over_holds_the_pods_as_after_a_restart() -> None:
    now = [1_700_000_000.0]
    writer = InMemoryScaleWriter()
    service = AutoscalerService(writer, CollectorRegistry(), clock=lambda: now[0])
    service.set_leading(False)
    service.upsert_revision("default", "r", annotations={"autoscaling.knative.dev/window": "6s"}, ready=8)
    service.observe("default", "r", replicas=8)
    for _ in range(20):  # the standby saw no stats for 40 s: it would want fewer pods
        now[0] += 2
        result = await service.tick()
    assert result.decision(0).want < 8
    service.set_leading(True)
    for _ in range(2):  # within a stable window of the takeover: nothing scaled down
        now[0] += 2
        await service.tick()
    assert writer.scale_writes == []
    assert writer.statuses[("default", "r")].actual_scale == 8
    for _ in range(5):  # a full stable window later the windows are its own: down it goes
        now[0] += 2
        await service.tick()
    assert writer.scale_writes and writer.scale_writes[-1][2] < 8
