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


async def test_an_invalid_handshake_is_refused_before_any_pod_is_asked(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request.method)
        return web.Response(text="plain")

    app = web.Application()
    app.router.add_route("*", "/ws", record)
    pod = await start_backend(app)
    gw = await start_gateway(
        o.ingress("ws", [HOST], [o.path([o.split(REV, 100)])]), o.endpoints(REV, [pod.port]), o.revision(REV)
    )
    upgrade = {"Host": HOST, "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}
    for method, extra in (
        ("GET", {}),  # no key
        ("GET", {"Sec-WebSocket-Key": "c2hvcnQ="}),  # not 16 bytes
        ("POST", {"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}),  # RFC 6455: a GET only
    ):
        async with client.request(method, gw.url + "/ws", headers={**upgrade, **extra}) as resp:
            assert resp.status == 400, (method, extra)
            assert "not a valid websocket handshake" in await resp.text()
    assert seen == []
    async with client.get(gw.url + "/ws", headers={"Host": HOST}) as resp:
        assert (resp.status, await resp.text()) == (200, "plain")
    assert seen == ["GET"]
