"""Stats and pokes reach a real (loopback) autoscaler in the agreed format; metrics are exposed."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from activator.app import http_sink_factory
from activator.config import GatewayConfig
from activator.http_sink import HttpStatsSink
from activator.metrics import GatewayMetrics
from activator.reporter import StatsReporter
from activator.routing import RevisionKey
from activator.source import ClusterSnapshot
from activator.state import GatewayState
from activator.stats import RevisionStat, StatsReport, poke_body
from autoscaler import stats as autoscaler_stats
from tests.activator import objects as o
from tests.activator.conftest import StartBackend, StartGateway, hello_app

HOST = "stats.default.example.com"
REV = "stats-00001"
KEY = RevisionKey("default", REV)


class FakeAutoscaler:
    """A loopback autoscaler endpoint that keeps what it receives."""

    def __init__(self) -> None:
        self.stats: list[dict[str, Any]] = []
        self.pokes: list[dict[str, Any]] = []
        self.poked = asyncio.Event()
        self.got_stats = asyncio.Event()

    def app(self) -> web.Application:
        async def stats(request: web.Request) -> web.Response:
            self.stats.append(await request.json())
            self.got_stats.set()
            return web.Response(status=204)

        async def poke(request: web.Request) -> web.Response:
            self.pokes.append(await request.json())
            self.poked.set()
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/stats", stats)
        app.router.add_post("/poke", poke)
        return app


async def test_http_sink_posts_the_agreed_json(start_backend: StartBackend) -> None:
    autoscaler = FakeAutoscaler()
    server = await start_backend(autoscaler.app())
    async with aiohttp.ClientSession() as session:
        sink = HttpStatsSink(session, f"http://127.0.0.1:{server.port}/")
        await sink.poke(KEY)
        await sink.send_stats(StatsReport("gw-1", 1700000000.5, (RevisionStat(KEY, 2.5, 7),)))
    assert autoscaler.pokes == [{"namespace": "default", "revision": REV}]
    assert autoscaler.stats == [
        {
            "gateway": "gw-1",
            "timestamp": 1700000000.5,
            "stats": [{"namespace": "default", "revision": REV, "concurrency": 2.5, "requests": 7}],
        }
    ]


async def test_http_sink_survives_an_absent_autoscaler() -> None:
    async with aiohttp.ClientSession() as session:
        sink = HttpStatsSink(session, "http://127.0.0.1:9", timeout_s=1.0)
        await sink.poke(KEY)  # must not raise


async def test_gateway_pokes_at_once_and_reports_every_period(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    autoscaler = FakeAutoscaler()
    server = await start_backend(autoscaler.app())
    config = GatewayConfig(stats_period_s=0.1, drain_timeout_s=2.0, gateway_id="gw-test")
    ingress = o.ingress("stats", [HOST], [o.path([o.split(REV, 100)])])
    gw = await start_gateway(
        ingress, config=config, sink_factory=http_sink_factory(f"http://127.0.0.1:{server.port}")
    )
    request = asyncio.create_task(client.get(gw.url, headers={"Host": HOST}))
    await asyncio.wait_for(autoscaler.poked.wait(), 5.0)
    assert autoscaler.pokes == [{"namespace": "default", "revision": REV}]
    await asyncio.wait_for(autoscaler.got_stats.wait(), 10.0)
    body = autoscaler.stats[0]
    assert body["gateway"] == "gw-test"
    (stat,) = body["stats"]
    assert stat["revision"] == REV and stat["requests"] == 1 and stat["concurrency"] > 0
    pod = await start_backend(hello_app())
    gw.set_objects(ingress, o.endpoints(REV, [pod.port]))
    response = await request
    assert response.status == 200
    response.release()


def test_reporter_averages_over_the_window_and_skips_idle_revisions() -> None:
    now = [100.0]
    state = GatewayState(GatewayConfig(gateway_id="g"), lambda: now[0], random.Random(1))
    state.apply(
        ClusterSnapshot.from_objects(
            [
                o.ingress("a", ["a.example.com"], [o.path([o.split("a-1", 100)])]),
                o.ingress("b", ["b.example.com"], [o.path([o.split("b-1", 100)])]),
            ]
        )
    )
    metrics = GatewayMetrics(CollectorRegistry())
    reporter = StatsReporter(state, metrics, lambda: now[0], lambda: 1700000000.0)
    recorder = state.revisions[RevisionKey("default", "a-1")].recorder
    recorder.report(now[0])
    recorder.start(100.0)
    recorder.start(100.5)
    now[0] = 101.0
    report = reporter.collect()
    assert report.gateway == "g" and report.timestamp == 1700000000.0
    assert report.stats == (RevisionStat(RevisionKey("default", "a-1"), 1.5, 2),)
    now[0] = 102.0
    assert reporter.collect().stats == (RevisionStat(RevisionKey("default", "a-1"), 2.0, 0),)
    recorder.end(102.0)
    recorder.end(102.0)
    now[0] = 103.0
    # One zero after the traffic stopped, then nothing until there is traffic again.
    assert reporter.collect().stats == (RevisionStat(RevisionKey("default", "a-1"), 0.0, 0),)
    now[0] = 104.0
    assert reporter.collect().stats == ()


class SlowSink:
    """An autoscaler that takes `delay` seconds to take each report, noting when each was sent."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.sent_at: list[float] = []

    async def send_stats(self, report: StatsReport) -> None:
        self.sent_at.append(asyncio.get_running_loop().time())
        await asyncio.sleep(self.delay)

    async def poke(self, revision: RevisionKey) -> None:
        return None


async def test_reports_keep_their_cadence_when_the_autoscaler_is_slow() -> None:
    loop = asyncio.get_running_loop()
    state = GatewayState(GatewayConfig(gateway_id="g"), loop.time, random.Random(1))
    state.apply(
        ClusterSnapshot.from_objects([o.ingress("a", ["a.example.com"], [o.path([o.split("a-1", 100)])])])
    )
    state.revisions[RevisionKey("default", "a-1")].recorder.start(loop.time())  # busy throughout
    reporter = StatsReporter(state, GatewayMetrics(CollectorRegistry()), loop.time, lambda: 1700000000.0)
    sink = SlowSink(delay=0.35)
    task = asyncio.create_task(reporter.run(sink, 0.1))
    await asyncio.sleep(0.75)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # One report every 0.1 s although each takes 0.35 s to deliver (awaiting each would give 2-3).
    assert 6 <= len(sink.sent_at) <= 8
    gaps = [b - a for a, b in zip(sink.sent_at, sink.sent_at[1:], strict=False)]
    assert max(gaps) < 0.2


async def test_admin_port_exposes_metrics_from_its_own_registry(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    pod = await start_backend(hello_app())
    gw = await start_gateway(
        o.ingress("stats", [HOST], [o.path([o.split(REV, 100)])]), o.endpoints(REV, [pod.port]), admin=True
    )
    for _ in range(3):
        async with client.get(gw.url, headers={"Host": HOST}) as resp:
            assert resp.status == 200
    async with client.get(gw.url, headers={"Host": "unknown"}) as resp:
        assert resp.status == 404
    gw.gateway.reporter.collect()
    async with client.get(gw.admin_url + "/metrics") as resp:
        text = await resp.text()
    labels = f'code="200",namespace="default",revision="{REV}",service="stats"'
    assert f"kwake_gateway_requests_total{{{labels}}} 3.0" in text
    assert f"kwake_gateway_request_duration_seconds_count{{{labels}}} 3.0" in text
    assert 'kwake_gateway_requests_total{code="404"' in text
    assert f'kwake_gateway_revision_pods{{namespace="default",revision="{REV}"}} 1.0' in text
    assert f'kwake_gateway_queue_depth{{namespace="default",revision="{REV}"}} 0.0' in text


def test_the_autoscaler_parses_what_the_gateway_sends() -> None:
    """The wire contract, checked against the autoscaler's own parser (no I/O on either side)."""
    report = StatsReport("gw-1", 1700000000.25, (RevisionStat(KEY, 1.75, 3),))
    message = autoscaler_stats.parse_stats(json.loads(json.dumps(report.to_wire())))
    assert (message.gateway, message.timestamp) == ("gw-1", 1700000000.25)
    (stat,) = message.stats
    assert (stat.namespace, stat.revision, stat.concurrency, stat.requests) == ("default", REV, 1.75, 3)
    poke = autoscaler_stats.parse_poke(json.loads(json.dumps(poke_body(KEY))))
    assert (poke.namespace, poke.revision) == ("default", REV)
