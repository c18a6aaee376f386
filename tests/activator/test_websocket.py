"""WebSocket upgrades are proxied: frames both ways, close passed on, the pod slot held meanwhile."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from activator.routing import RevisionKey
from tests.activator import objects as o
from tests.activator.conftest import StartBackend, StartGateway

HOST = "ws.default.example.com"
REV = "ws-00001"


def _echo_app() -> web.Application:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("echo.v1",))
        await ws.prepare(request)
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str("echo:" + message.data)
            elif message.type == aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(message.data[::-1])
        return ws

    app = web.Application()
    app.router.add_get("/ws", echo)
    return app


async def test_websocket_echo_through_the_gateway(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    pod = await start_backend(_echo_app())
    gw = await start_gateway(
        o.ingress("ws", [HOST], [o.path([o.split(REV, 100)])]),
        o.endpoints(REV, [pod.port]),
        o.revision(REV, container_concurrency=1),
    )
    throttler = gw.gateway.state.revisions[RevisionKey("default", REV)].throttler
    async with client.ws_connect(gw.url + "/ws", headers={"Host": HOST}, protocols=("echo.v1",)) as ws:
        assert ws.protocol == "echo.v1"
        await ws.send_str("hi")
        assert await ws.receive_str() == "echo:hi"
        await ws.send_bytes(b"abc")
        assert await ws.receive_bytes() == b"cba"
        assert throttler.in_flight == 1
    assert ws.closed
    async with client.ws_connect(gw.url + "/ws", headers={"Host": HOST}) as ws:
        await ws.send_str("again")
        assert await ws.receive_str() == "echo:again"
