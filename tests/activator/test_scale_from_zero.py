"""A revision at zero: requests wait, the autoscaler is poked at once, and all are served."""

from __future__ import annotations

import asyncio

import aiohttp

from activator.config import GatewayConfig
from activator.routing import RevisionKey
from tests.activator import objects as o
from tests.activator.conftest import StartBackend, StartGateway, hello_app
from tests.activator.polling import eventually
from tests.activator.sinks import RecordingSink

HOST = "cold.default.example.com"
REV = "cold-00001"
KEY = RevisionKey("default", REV)


async def test_200_requests_at_zero_all_succeed_once_a_pod_appears(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    sink = RecordingSink()
    ingress = o.ingress("cold", [HOST], [o.path([o.split(REV, 100)])])
    # No stats tick during the test: the poke must not wait for one.
    config = GatewayConfig(stats_period_s=3600, drain_timeout_s=2.0)
    gw = await start_gateway(ingress, o.revision(REV), sink_factory=lambda session: sink, config=config)
    throttler = gw.gateway.state.revisions[KEY].throttler

    async def one() -> int:
        async with client.get(gw.url, headers={"Host": HOST}) as resp:
            assert await resp.text() == "hello"
            return resp.status

    requests = [asyncio.create_task(one())]
    await asyncio.wait_for(sink.poked.wait(), 5.0)
    assert sink.reports == []
    requests += [asyncio.create_task(one()) for _ in range(199)]
    await eventually(lambda: throttler.waiting == 200, within=20.0)
    assert sink.pokes == [KEY]  # one poke per interval, not one per request
    pod = await start_backend(hello_app())
    gw.set_objects(ingress, o.revision(REV), o.endpoints(REV, [pod.port]))
    assert await asyncio.gather(*requests) == [200] * 200
    assert throttler.waiting == 0 and throttler.in_flight == 0


async def test_queued_requests_count_as_concurrency_for_the_autoscaler(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    ingress = o.ingress("cold", [HOST], [o.path([o.split(REV, 100)])])
    gw = await start_gateway(ingress, o.revision(REV))
    state = gw.gateway.state
    requests = [asyncio.create_task(client.get(gw.url, headers={"Host": HOST})) for _ in range(10)]
    await eventually(lambda: state.revisions[KEY].throttler.waiting == 10)
    report = gw.gateway.reporter.collect()
    (stat,) = report.stats
    assert stat.revision == KEY and stat.requests == 10
    assert 0 < stat.concurrency <= 10
    pod = await start_backend(hello_app())
    gw.set_objects(ingress, o.revision(REV), o.endpoints(REV, [pod.port]))
    for response in await asyncio.gather(*requests):
        assert response.status == 200
        response.release()
