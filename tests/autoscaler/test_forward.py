"""A standby forwards gateway messages to the leader, once, and still records them itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from autoscaler.forward import LeaderForwarder
from autoscaler.server import build_app
from autoscaler.service import AutoscalerService
from autoscaler.writer import InMemoryScaleWriter

NS, REV = "default", "web-00001"
STATS = {
    "gateway": "gw",
    "timestamp": 0.0,
    "stats": [{"namespace": NS, "revision": REV, "concurrency": 2.0, "requests": 2}],
}


@dataclass
class Replica:
    service: AutoscalerService
    writer: InMemoryScaleWriter
    registry: CollectorRegistry
    server: TestServer | None = None
    leader_url: str | None = None

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))

    def count(self, name: str) -> float:
        return self.registry.get_sample_value(f"kwake_autoscaler_{name}_total") or 0.0


def _leader_of(replica: Replica) -> Callable[[], str | None]:
    return lambda: replica.leader_url


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
async def replicas(session: aiohttp.ClientSession) -> AsyncIterator[list[Replica]]:
    made: list[Replica] = []
    for _ in range(2):
        writer = InMemoryScaleWriter()
        registry = CollectorRegistry()
        service = AutoscalerService(writer, registry, clock=lambda: 1_700_000_000.0)
        service.upsert_revision(NS, REV, ready=0)
        replica = Replica(service, writer, registry)
        forwarder = LeaderForwarder(session, _leader_of(replica))
        replica.server = TestServer(build_app(service, registry, forwarder), host="127.0.0.1")
        await replica.server.start_server()
        made.append(replica)
    yield made
    for replica in made:
        assert replica.server is not None
        await replica.server.close()


async def test_a_standby_forwards_to_the_leader_which_scales(
    replicas: list[Replica], session: aiohttp.ClientSession
) -> None:
    leader, standby = replicas
    standby.service.set_leading(False)
    standby.leader_url = leader.url("/")
    async with session.post(standby.url("/stats"), json=STATS) as response:
        assert response.status == 204
    async with session.post(standby.url("/poke"), json={"namespace": NS, "revision": REV}) as response:
        assert response.status == 202
    assert standby.count("forwarded") == 2
    assert leader.writer.scales[(NS, f"{REV}-deployment")] >= 1  # decided at once on receipt
    assert standby.writer.scale_writes == [] and standby.writer.status_writes == 0
    assert standby.count("stats_received") == 1  # recorded there too


async def test_a_forwarded_message_is_never_forwarded_again(
    replicas: list[Replica], session: aiohttp.ClientSession
) -> None:
    a, b = replicas
    for replica, other in ((a, b), (b, a)):  # two standbys, each believing the other leads
        replica.service.set_leading(False)
        replica.leader_url = other.url("/")
    async with session.post(a.url("/stats"), json=STATS) as response:
        assert response.status == 204
    assert a.count("forwarded") == 1
    assert b.count("forwarded") == 0
    assert b.count("stats_received") == 1


async def test_without_a_leader_the_message_is_kept_and_the_miss_counted(
    replicas: list[Replica], session: aiohttp.ClientSession
) -> None:
    standby = replicas[0]
    standby.service.set_leading(False)
    async with session.post(standby.url("/stats"), json=STATS) as response:
        assert response.status == 204
    assert standby.count("forward_errors") == 1
    assert standby.count("stats_received") == 1
