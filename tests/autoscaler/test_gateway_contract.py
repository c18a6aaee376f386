"""The gateway's real HTTP sink talks to the autoscaler's real endpoint: the agreed wire format."""

from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from activator.http_sink import HttpStatsSink
from activator.routing import RevisionKey as GatewayRevisionKey
from activator.stats import RevisionStat, StatsReport
from autoscaler.server import build_app
from autoscaler.service import AutoscalerService
from autoscaler.writer import InMemoryScaleWriter


class Clock:
    now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_gateway_stats_and_pokes_reach_the_autoscaler() -> None:
    clock = Clock()
    registry = CollectorRegistry()
    writer = InMemoryScaleWriter()
    service = AutoscalerService(writer, registry, clock=clock)
    service.upsert_revision("default", "hello-00001", annotations={"autoscaling.knative.dev/window": "6s"})
    revision = GatewayRevisionKey("default", "hello-00001")
    async with (
        TestServer(build_app(service, registry), host="127.0.0.1") as server,
        aiohttp.ClientSession() as session,
    ):
        sink = HttpStatsSink(session, str(server.make_url("/")))
        report = StatsReport(
            gateway="gw-test",
            timestamp=clock.now,
            stats=(
                RevisionStat(revision, 140.0, 12),
                RevisionStat(GatewayRevisionKey("default", "unknown-00001"), 1.0, 1),
            ),
        )
        await sink.send_stats(report)
        assert registry.get_sample_value("kwake_autoscaler_stats_received_total") == 1.0
        assert registry.get_sample_value("kwake_autoscaler_stats_unknown_revision_total") == 1.0
        assert registry.get_sample_value("kwake_autoscaler_messages_rejected_total") == 0.0
        result = await service.tick()
        assert result.decision(0).desired_scale == 2  # 140 / 70

        await sink.poke(revision)
        assert registry.get_sample_value("kwake_autoscaler_pokes_total") == 1.0
