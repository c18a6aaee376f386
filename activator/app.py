"""Composes the gateway: the handler chain, the shared session, the routing source, the reporter.

Handler order, outermost first (as Knative's activator orders its chain):
probe -> access log -> metrics -> limits -> routing -> concurrency -> throttle -> proxy.
The admin app (metrics, readiness) is separate so that it listens on its own port.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from activator.config import GatewayConfig
from activator.handlers.access_log import access_log_middleware
from activator.handlers.concurrency import concurrency_middleware
from activator.handlers.limits import limits_middleware
from activator.handlers.metrics import metrics_middleware
from activator.handlers.probe import probe_middleware
from activator.handlers.proxy import Proxy
from activator.handlers.routing import routing_middleware
from activator.handlers.throttle import throttle_middleware
from activator.http_sink import HttpStatsSink
from activator.metrics import GatewayMetrics
from activator.poker import Poker
from activator.reporter import StatsReporter
from activator.source import RoutingSource
from activator.state import GatewayState
from activator.stats import NullStatsSink, StatsSink
from activator.tasks import TaskGroup

ACCESS_LOGGER = "kwake.gateway.access"

SinkFactory = Callable[[aiohttp.ClientSession], StatsSink]


@dataclasses.dataclass(frozen=True)
class Gateway:
    """What a running gateway app exposes to its server, its admin app and tests."""

    config: GatewayConfig
    state: GatewayState
    metrics: GatewayMetrics
    reporter: StatsReporter
    poker: Poker


GATEWAY = web.AppKey("kwake_gateway", Gateway)


def http_sink_factory(base_url: str) -> SinkFactory:
    return lambda session: HttpStatsSink(session, base_url)


def build_app(
    config: GatewayConfig,
    source: RoutingSource,
    *,
    sink_factory: SinkFactory | None = None,
    registry: CollectorRegistry | None = None,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
    access_logger: logging.Logger | None = None,
) -> web.Application:
    rng = rng or random.Random()
    state = GatewayState(config, clock, rng)
    metrics = GatewayMetrics(registry or CollectorRegistry())
    tasks = TaskGroup()
    poker = Poker(NullStatsSink(), tasks, config.poke_interval_s, clock)
    reporter = StatsReporter(state, metrics, clock, time.time)
    proxy = Proxy(config)
    app = web.Application(
        middlewares=[
            probe_middleware(state),
            access_log_middleware(access_logger or logging.getLogger(ACCESS_LOGGER), clock),
            metrics_middleware(metrics, clock),
            limits_middleware(config),
            routing_middleware(state, rng),
            concurrency_middleware(clock),
            throttle_middleware(config, poker, metrics, clock),
        ],
        # The gateway streams bodies itself and enforces its own limit while doing so.
        client_max_size=config.max_body_bytes,
    )
    app[GATEWAY] = Gateway(config, state, metrics, reporter, poker)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30.0)
        session = aiohttp.ClientSession(
            connector=connector,
            # One session serves every client: cookies must never be remembered across them.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=config.connect_timeout_s),
        )
        proxy.session = session
        sink = sink_factory(session) if sink_factory else NullStatsSink()
        poker.sink = sink
        tasks.spawn(source.run(state.apply), name="routing source")
        tasks.spawn(reporter.run(sink, config.stats_period_s), name="stats reporter")
        try:
            yield
        finally:
            await tasks.close()
            await session.close()

    app.cleanup_ctx.append(lifetime)
    return app


def build_admin_app(gateway: Gateway) -> web.Application:
    """`/metrics` (the gateway's own registry), `/ready` (503 until synced and once draining)."""

    async def metrics(request: web.Request) -> web.Response:
        body = generate_latest(gateway.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def ready(request: web.Request) -> web.Response:
        if gateway.state.ready:
            return web.Response(text="ready")
        return web.Response(status=503, text="draining" if gateway.state.draining else "not synced")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    admin = web.Application()
    admin.router.add_get("/metrics", metrics)
    admin.router.add_get("/ready", ready)
    admin.router.add_get("/healthz", healthz)
    return admin
