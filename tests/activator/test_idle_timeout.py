"""A revision's idleTimeoutSeconds: the pod may not stay silent longer than that while answering.

Silent before the status line: 504, as for the other timeouts. Silent in the middle of a streamed
body: the status is gone already, so the client's connection is cut (as nginx and Envoy do). A pod
that keeps sending, however slowly, is never cut by it.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web

from activator.backends import RevisionSettings
from tests.activator import objects as o
from tests.activator.conftest import StartBackend, StartGateway

HOST = "slow.default.example.com"


def _slow_app() -> web.Application:
    async def silent_first(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text="too late")

    async def stalls(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"first ")
        await asyncio.sleep(3)
        await response.write(b"never")
        return response

    async def trickles(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(5):
            await response.write(b"tick ")
            await asyncio.sleep(0.4)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/silent-first", silent_first)
    app.router.add_get("/stalls", stalls)
    app.router.add_get("/trickles", trickles)
    return app


@pytest.fixture
async def gateway_url(start_backend: StartBackend, start_gateway: StartGateway) -> str:
    backend = await start_backend(_slow_app())
    gateway = await start_gateway(
        o.ingress("slow", [HOST], [o.path([o.split("slow-00001", 100)])]),
        o.endpoints("slow-00001", [backend.port]),
        o.revision("slow-00001", timeout_s=30, idle_s=1),
    )
    return gateway.url


async def test_a_pod_silent_before_its_status_line_gets_504_at_the_idle_timeout(
    gateway_url: str, client: aiohttp.ClientSession
) -> None:
    started = time.monotonic()
    async with client.get(f"{gateway_url}/silent-first", headers={"Host": HOST}) as resp:
        assert resp.status == 504
    assert 0.9 < time.monotonic() - started < 2.5


async def test_a_pod_silent_mid_body_has_the_client_connection_cut(
    gateway_url: str, client: aiohttp.ClientSession
) -> None:
    started = time.monotonic()
    async with client.get(f"{gateway_url}/stalls", headers={"Host": HOST}) as resp:
        assert resp.status == 200
        assert await resp.content.readexactly(6) == b"first "
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    assert 0.9 < time.monotonic() - started < 2.5


async def test_a_pod_that_keeps_sending_is_never_cut(gateway_url: str, client: aiohttp.ClientSession) -> None:
    async with client.get(f"{gateway_url}/trickles", headers={"Host": HOST}) as resp:
        assert resp.status == 200
        assert await resp.read() == b"tick " * 5


def test_idle_timeout_defaults_to_none_and_never_exceeds_the_revision_timeout() -> None:
    assert RevisionSettings.from_revision({"spec": {}}).idle_timeout_s == 0.0
    capped = RevisionSettings.from_revision({"spec": {"timeoutSeconds": 10, "idleTimeoutSeconds": 30}})
    assert capped.idle_timeout_s == 10.0
    assert RevisionSettings.from_revision({"spec": {"idleTimeoutSeconds": 5}}).idle_timeout_s == 5.0
