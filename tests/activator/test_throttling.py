"""Per-revision limits through the gateway: containerConcurrency, queue depth, deadlines, refusals."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from activator.config import GatewayConfig
from activator.routing import RevisionKey
from activator.subsetting import ReplicaSlot
from tests.activator import objects as o
from tests.activator.conftest import ListLines, RunningGateway, StartBackend, StartGateway, hello_app
from tests.activator.polling import eventually

HOST = "svc.default.example.com"
REV = "svc-00001"
KEY = RevisionKey("default", REV)


def _ingress() -> dict[str, Any]:
    return o.ingress("svc", [HOST], [o.path([o.split(REV, 100)])])


def _waiting(gw: RunningGateway) -> int:
    return gw.gateway.state.revisions[KEY].throttler.waiting


class InFlightGuard:
    """A pod that records a violation if it ever holds more than `limit` requests at once."""

    def __init__(self, limit: int, delay_s: float = 0.01) -> None:
        self.limit, self.delay_s = limit, delay_s
        self.in_flight = self.peak = self.served = 0
        self.violations = 0

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            if self.in_flight > self.limit:
                self.violations += 1
            try:
                await asyncio.sleep(self.delay_s)
            finally:
                self.in_flight -= 1
            self.served += 1
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/", handle)
        return app


async def test_container_concurrency_is_never_exceeded_under_a_burst(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    guards = [InFlightGuard(limit=2), InFlightGuard(limit=2)]
    pods = [await start_backend(g.app()) for g in guards]
    gw = await start_gateway(
        _ingress(), o.endpoints(REV, [p.port for p in pods]), o.revision(REV, container_concurrency=2)
    )

    async def one() -> int:
        async with client.get(gw.url, headers={"Host": HOST}) as resp:
            await resp.read()
            return resp.status

    statuses = await asyncio.gather(*(one() for _ in range(150)))
    assert statuses == [200] * 150
    assert [g.violations for g in guards] == [0, 0]
    assert [g.peak for g in guards] == [2, 2]
    assert sum(g.served for g in guards) == 150


async def test_two_gateway_replicas_together_respect_container_concurrency(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    guards = [InFlightGuard(limit=1) for _ in range(3)]
    pods = [await start_backend(g.app()) for g in guards]
    objects = (_ingress(), o.endpoints(REV, [p.port for p in pods]), o.revision(REV, container_concurrency=1))
    replicas = [await start_gateway(*objects, slot=ReplicaSlot(i, 2)) for i in range(2)]
    # Pods are split between the replicas (2 + 1 here), so together they never double-book one.
    assert sorted(len(r.gateway.state.revisions[KEY].throttler.trackers) for r in replicas) == [1, 2]

    async def one(gateway_url: str) -> int:
        async with client.get(gateway_url, headers={"Host": HOST}) as resp:
            await resp.read()
            return resp.status

    statuses = await asyncio.gather(*(one(replicas[i % 2].url) for i in range(90)))
    assert statuses == [200] * 90
    assert [g.violations for g in guards] == [0, 0, 0]
    assert all(g.served > 0 for g in guards)


async def test_full_queue_is_503_at_once_and_the_queued_are_served(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    gate = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        await gate.wait()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", handle)
    pod = await start_backend(app)
    config = GatewayConfig(queue_depth=5, drain_timeout_s=2.0)
    gw = await start_gateway(
        _ingress(), o.endpoints(REV, [pod.port]), o.revision(REV, container_concurrency=1), config=config
    )

    async def one() -> int:
        async with client.get(gw.url, headers={"Host": HOST}) as resp:
            await resp.read()
            return resp.status

    held = [asyncio.create_task(one()) for _ in range(6)]  # 1 in flight + 5 queued
    await eventually(lambda: _waiting(gw) == 5)
    async with client.get(gw.url, headers={"Host": HOST}) as resp:
        assert resp.status == 503
        assert "queue full" in await resp.text()
    gate.set()
    assert await asyncio.gather(*held) == [200] * 6


async def test_no_pod_before_the_deadline_is_504(
    start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    # Knative's timeouts are whole seconds; the gateway reads any number, which keeps this fast.
    revision = o.revision(REV)
    revision["spec"]["responseStartTimeoutSeconds"] = 0.3
    gw = await start_gateway(_ingress(), revision)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with client.get(gw.url, headers={"Host": HOST}) as resp:
        assert resp.status == 504
    assert 0.25 < loop.time() - started < 8.0
    assert _waiting(gw) == 0


async def test_a_pod_slow_to_answer_is_504_at_the_response_start_deadline(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    pod = await start_backend(hello_app())
    slow = InFlightGuard(limit=100, delay_s=0.6)
    slow_pod = await start_backend(slow.app())
    revision = o.revision(REV)
    revision["spec"]["responseStartTimeoutSeconds"] = 0.3
    gw = await start_gateway(_ingress(), o.endpoints(REV, [slow_pod.port]), revision)
    async with client.get(gw.url, headers={"Host": HOST}) as resp:
        assert resp.status == 504
    gw.set_objects(_ingress(), o.endpoints(REV, [pod.port]), revision)
    async with client.get(gw.url, headers={"Host": HOST}) as resp:
        assert resp.status == 200


async def test_requests_queue_in_arrival_order(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    order: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        order.append(request.query["i"])
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", handle)
    pod = await start_backend(app)
    gw = await start_gateway(_ingress(), o.revision(REV, container_concurrency=1))

    async def one(i: int) -> int:
        async with client.get(f"{gw.url}/?i={i}", headers={"Host": HOST}) as resp:
            return resp.status

    tasks = []
    for i in range(10):
        tasks.append(asyncio.create_task(one(i)))
        queued = i + 1
        await eventually(lambda: _waiting(gw) == queued)  # noqa: B023 - awaited in this iteration
    gw.set_objects(_ingress(), o.endpoints(REV, [pod.port]), o.revision(REV, container_concurrency=1))
    assert await asyncio.gather(*tasks) == [200] * 10
    assert order == [str(i) for i in range(10)]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused_is_retried_on_another_pod(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    pod = await start_backend(hello_app())
    dead = _closed_port()
    gw = await start_gateway(_ingress(), o.endpoints(REV, [dead, pod.port]))

    async def one() -> int:
        async with client.get(gw.url, headers={"Host": HOST}) as resp:
            return resp.status

    assert await asyncio.gather(*(one() for _ in range(50))) == [200] * 50


async def test_a_refusing_only_pod_holds_requests_until_a_good_one_appears(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    dead = _closed_port()
    gw = await start_gateway(_ingress(), o.endpoints(REV, [dead]))
    task = asyncio.create_task(client.get(gw.url, headers={"Host": HOST}))
    await eventually(lambda: _waiting(gw) == 1)
    pod = await start_backend(hello_app())
    gw.set_objects(_ingress(), o.endpoints(REV, [dead, pod.port]))
    resp = await task
    assert resp.status == 200
    resp.release()


async def test_client_going_away_cancels_upstream_and_logs_499(
    start_backend: StartBackend,
    start_gateway: StartGateway,
    client: aiohttp.ClientSession,
) -> None:
    access_log = ListLines()
    started, upstream_gone = asyncio.Event(), asyncio.Event()

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        started.set()
        try:
            for _ in range(500):
                await response.write(b"x" * 1024)
                await asyncio.sleep(0.01)
        except ConnectionError:
            upstream_gone.set()
        return response

    app = web.Application()
    app.router.add_get("/", trickle)
    pod = await start_backend(app)
    gw = await start_gateway(_ingress(), o.endpoints(REV, [pod.port]), access_log=access_log)
    with pytest.raises(TimeoutError):
        async with client.get(
            gw.url, headers={"Host": HOST}, timeout=aiohttp.ClientTimeout(total=0.3)
        ) as resp:
            await resp.read()
    await asyncio.wait_for(upstream_gone.wait(), 10.0)
    await eventually(lambda: gw.gateway.state.revisions[KEY].recorder.in_flight == 0)
    await eventually(lambda: any('"status":499' in line for line in access_log.lines))
    assert gw.gateway.state.revisions[KEY].throttler.in_flight == 0
