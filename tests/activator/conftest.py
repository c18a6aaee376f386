"""Real loopback servers for the gateway's tests: backends (pods), the gateway, and a client."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from activator.access_lines import LineSink
from activator.app import GatewayApp, SinkFactory, build_app
from activator.config import GatewayConfig
from activator.server import GatewayServer
from activator.source import ClusterSnapshot, StaticRoutingSource
from activator.subsetting import ReplicaSlot


@dataclasses.dataclass
class Backend:
    runner: web.AppRunner
    port: int

    async def stop(self) -> None:
        await self.runner.cleanup()


StartBackend = Callable[[web.Application], Awaitable[Backend]]


@pytest.fixture
async def start_backend() -> AsyncIterator[StartBackend]:
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> Backend:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        runners.append(runner)
        return Backend(runner, site.port)

    yield start
    for runner in reversed(runners):
        await runner.cleanup()


@dataclasses.dataclass
class RunningGateway:
    server: GatewayServer
    gateway: GatewayApp
    source: StaticRoutingSource

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.server.admin_port}"

    def set_objects(self, *objects: Mapping[str, Any]) -> None:
        self.source.replace(ClusterSnapshot.from_objects(objects))


StartGateway = Callable[..., Awaitable[RunningGateway]]

TEST_CONFIG = GatewayConfig(drain_timeout_s=2.0, connect_timeout_s=2.0)


@pytest.fixture
async def start_gateway() -> AsyncIterator[StartGateway]:
    running: list[RunningGateway] = []

    async def start(
        *objects: Mapping[str, Any],
        config: GatewayConfig = TEST_CONFIG,
        sink_factory: SinkFactory | None = None,
        admin: bool = False,
        access_log: LineSink | None = None,
        slot: ReplicaSlot | None = None,
    ) -> RunningGateway:
        source = StaticRoutingSource(ClusterSnapshot.from_objects(objects, slot))
        app = build_app(config, source, sink_factory=sink_factory, access_log=access_log)
        server = GatewayServer(app, port=0, admin_port=0 if admin else None)
        await server.start()
        gateway = RunningGateway(server, app, source)
        running.append(gateway)
        return gateway

    yield start
    for gateway in reversed(running):
        await gateway.server.drain()


class ListLines:
    """An access-log sink that keeps the lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        yield session


def hello_app() -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hello)
    return app
