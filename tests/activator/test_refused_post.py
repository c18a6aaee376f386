"""A POST whose pod refuses the connection is sent to another pod: nothing of it was sent.

A refused connect happens before the gateway takes any byte of the body from the client's
stream, even when the whole body already arrived with the headers (a small POST usually does):
that must not count as "the body started", or the request gets a 502 it never needed (seen in
tests/reliability: POSTs arriving just after a pod was killed).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
from aiohttp import web

from tests.activator import objects as o
from tests.activator.conftest import StartBackend, StartGateway

HOST = "svc.default.example.com"
REV = "svc-00001"
BODY = b'{"small": "body"}'


def _ingress() -> dict[str, Any]:
    return o.ingress("svc", [HOST], [o.path([o.split(REV, 100)])])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _echo_app() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app = web.Application()
    app.router.add_post("/", echo)
    return app


async def test_a_post_refused_by_one_pod_is_answered_by_another_with_its_whole_body(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    pod = await start_backend(_echo_app())
    gw = await start_gateway(_ingress(), o.endpoints(REV, [_closed_port(), pod.port]))

    async def one(i: int) -> tuple[int, bool]:
        body = BODY + str(i).encode()
        async with client.post(gw.url, data=body, headers={"Host": HOST}) as resp:
            return resp.status, (await resp.read()) == body

    assert await asyncio.gather(*(one(i) for i in range(50))) == [(200, True)] * 50
