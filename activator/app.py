"""Composes the gateway: the handler chain, the shared session and pool, the routing source, the
stats reporter. Everything with a lifetime is made in `start()` and closed in `close()`.

The chain, outermost first (as Knative's activator orders its handlers):
probe -> [access log, metrics] -> limits -> routing -> throttle (counts concurrency) -> proxy.
Probe, limits and routing are synchronous checks, access log and metrics observers of the
outcome, the rest async handlers wrapping the next (see `handlers/chain.py`). The data port's
own HTTP/1.1 server (`fastlane.py`) runs it for plain requests and aiohttp's low-level
`web.Server` (`aiohttp_edge.py`) for the rest. The admin app (metrics, readiness) is an
ordinary aiohttp Application on its own port.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from activator.access_lines import LineSink
from activator.config import GatewayConfig
from activator.deadlines import DeadlineWatch
from activator.handlers.access_log import access_log_observer
from activator.handlers.chain import checked, observed
from activator.handlers.context import Handler
from activator.handlers.limits import limits_check
from activator.handlers.metrics import metrics_observer
from activator.handlers.probe import probe_check
from activator.handlers.proxy import Proxy
from activator.handlers.routing import routing_check
from activator.handlers.throttle import throttle_handler
from activator.http_sink import HttpStatsSink
from activator.ingress_status import served_report
from activator.metrics import GatewayMetrics
from activator.poker import Poker
from activator.reporter import StatsReporter
from activator.source import RoutingSource
from activator.state import GatewayState
from activator.stats import NullStatsSink, StatsSink
from activator.tasks import TaskGroup
from activator.upstream import UpstreamPool

SinkFactory = Callable[[aiohttp.ClientSession], StatsSink]


def http_sink_factory(base_url: str) -> SinkFactory:
    return lambda session: HttpStatsSink(session, base_url)


class GatewayApp:
    def __init__(
        self,
        config: GatewayConfig,
        source: RoutingSource,
        *,
        sink_factory: SinkFactory | None = None,
        registry: CollectorRegistry | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        access_log: LineSink | None = None,
    ) -> None:
        rng = rng or random.Random()
        self.config = config
        self.state = GatewayState(config, clock, rng)
        self.metrics = GatewayMetrics(registry or CollectorRegistry())
        self.reporter = StatsReporter(self.state, self.metrics, clock, time.time)
        self._source = source
        self._sink_factory = sink_factory
        self._tasks = TaskGroup()
        self.poker = Poker(NullStatsSink(), self._tasks, config.poke_interval_s, clock)
        self.deadlines = DeadlineWatch()
        self._proxy = Proxy(config, self.deadlines)
        self._session: aiohttp.ClientSession | None = None
        self._pool: UpstreamPool | None = None
        self.handler: Handler = _compose(self, rng, clock, access_log)

    async def start(self) -> None:
        """The shared session and pool, the sink on top of them, the routing source, the reporter."""
        config = self.config
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=config.upstream_idle_timeout_s),
            # One session serves every client: cookies must never be remembered across them.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=config.connect_timeout_s),
        )
        self._proxy.session = self._session
        self._pool = UpstreamPool(
            config.connect_timeout_s, config.upstream_idle_timeout_s, config.max_connections_per_pod
        )
        self._proxy.pool = self._pool
        self._tasks.spawn(_sweep(self._pool, config.upstream_idle_timeout_s / 2), name="upstream sweeper")
        sink = self._sink_factory(self._session) if self._sink_factory else NullStatsSink()
        self.poker.sink = sink
        self._tasks.spawn(self._source.run(self.state.apply), name="routing source")
        self._tasks.spawn(self.reporter.run(sink, config.stats_period_s), name="stats reporter")

    async def close(self) -> None:
        await self._tasks.close()
        self.deadlines.close()
        if self._pool is not None:
            self._pool.close()
        if self._session is not None:
            await self._session.close()


def _compose(
    gateway: GatewayApp, rng: random.Random, clock: Callable[[], float], access_log: LineSink | None
) -> Handler:
    config, state, metrics = gateway.config, gateway.state, gateway.metrics
    handler: Handler = gateway._proxy.handle
    handler = throttle_handler(config, gateway.poker, metrics, clock, handler)
    handler = checked([limits_check(config), routing_check(state, rng)], handler)
    observers = [metrics_observer(metrics)]
    if access_log is not None:
        observers.append(access_log_observer(access_log))
    return observed([probe_check(state)], observers, clock, rng, handler)


def build_app(
    config: GatewayConfig,
    source: RoutingSource,
    *,
    sink_factory: SinkFactory | None = None,
    registry: CollectorRegistry | None = None,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
    access_log: LineSink | None = None,
) -> GatewayApp:
    """The gateway with its handler chain composed, ready to `start()`."""
    return GatewayApp(
        config,
        source,
        sink_factory=sink_factory,
        registry=registry,
        rng=rng,
        clock=clock,
        access_log=access_log,
    )


async def _sweep(pool: UpstreamPool, period_s: float) -> None:
    while True:
        await asyncio.sleep(period_s)
        pool.sweep()


def build_admin_app(gateway: GatewayApp) -> web.Application:
    """`/metrics` (the gateway's own registry), `/ready` (503 until synced and once draining),
    `/served` (the KIngress generations this replica serves, see `ingress_status`)."""

    async def metrics(request: web.Request) -> web.Response:
        body = generate_latest(gateway.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def ready(request: web.Request) -> web.Response:
        if gateway.state.ready:
            return web.Response(text="ready")
        return web.Response(status=503, text="draining" if gateway.state.draining else "not synced")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def served(request: web.Request) -> web.Response:
        return web.json_response(served_report(gateway.state.table.generations))

    admin = web.Application()
    admin.router.add_get("/metrics", metrics)
    admin.router.add_get("/ready", ready)
    admin.router.add_get("/healthz", healthz)
    admin.router.add_get("/served", served)
    return admin
