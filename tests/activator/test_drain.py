"""SIGTERM-style drain: not ready first, no new connections, every accepted request answered."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from activator.config import GatewayConfig
from activator.routing import RevisionKey
from tests.activator import objects as o
from tests.activator.conftest import StartBackend, StartGateway
from tests.activator.polling import eventually

HOST = "drain.default.example.com"
REV = "drain-00001"
KEY = RevisionKey("default", REV)


def _slow_app(delay_s: float) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        await asyncio.sleep(delay_s)
        return web.Response(text="done")

    app = web.Application()
    app.router.add_get("/", handle)
    return app


async def test_drain_under_load_loses_nothing(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    ingress = o.ingress("drain", [HOST], [o.path([o.split(REV, 100)])])
    busy_pod = await start_backend(_slow_app(0.1))
    config = GatewayConfig(drain_timeout_s=5.0, drain_quiet_s=0.2)
    gw = await start_gateway(
        ingress,
        o.endpoints(REV, [busy_pod.port]),
        o.revision(REV, container_concurrency=10),
        config=config,
        admin=True,
    )
    state = gw.gateway.state
    async with client.get(gw.admin_url + "/ready") as resp:
        assert resp.status == 200

    async def one() -> tuple[int, str]:
        async with client.get(gw.url, headers={"Host": HOST}) as resp:
            return resp.status, await resp.text()

    # 10 in flight on the pod and 40 queued behind them when the drain starts.
    requests = [asyncio.create_task(one()) for _ in range(50)]
    await eventually(lambda: state.revisions[KEY].recorder.in_flight == 50)
    drain = asyncio.create_task(gw.server.drain())
    await eventually(lambda: state.draining)
    async with client.get(gw.admin_url + "/ready") as resp:
        assert resp.status == 503
    await drain
    assert await asyncio.gather(*requests) == [(200, "done")] * 50
    with pytest.raises(aiohttp.ClientConnectionError):
        async with client.get(gw.url, headers={"Host": HOST}) as resp:
            pass


async def test_drain_is_bounded_and_answers_what_is_still_queued(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    ingress = o.ingress("drain", [HOST], [o.path([o.split(REV, 100)])])
    config = GatewayConfig(drain_timeout_s=0.3)
    gw = await start_gateway(ingress, config=config)  # no pod will ever come
    request = asyncio.create_task(client.get(gw.url, headers={"Host": HOST}))
    await eventually(lambda: gw.gateway.state.revisions[KEY].throttler.waiting == 1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await gw.server.drain()
    assert loop.time() - started < 8.0  # 0.3 s, with room for a loaded machine
    response = await request
    assert response.status == 503
    assert "shutting down" in await response.text()
