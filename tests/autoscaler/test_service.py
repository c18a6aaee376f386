"""The autoscaler service and its HTTP endpoint, with a synthetic clock and an in-memory writer."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY, CollectorRegistry

from autoscaler import stats
from autoscaler.server import build_app
from autoscaler.service import AutoscalerService
from autoscaler.writer import Condition, InMemoryScaleWriter, PodAutoscalerStatus

Client = TestClient[web.Request, web.Application]
G = "autoscaling.knative.dev"
NS = "default"
REV = "hello-00001"
DEPLOY = "hello-00001-deployment"


class Clock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class FlakyWriter(InMemoryScaleWriter):
    """Fails the first `failures` scale writes, as an API server under pressure would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def set_scale(self, namespace: str, deployment: str, replicas: int) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("connection reset")
        await super().set_scale(namespace, deployment, replicas)


class CountingWriter(InMemoryScaleWriter):
    """Yields to the loop inside each write and remembers how many were in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most_in_flight = 0

    async def set_scale(self, namespace: str, deployment: str, replicas: int) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        self.in_flight -= 1
        await super().set_scale(namespace, deployment, replicas)


def stats_body(concurrency: float, requests: int = 1, revision: str = REV) -> dict[str, object]:
    return {
        "gateway": "gw-1",
        "timestamp": 1_700_000_000.0,
        "stats": [{"namespace": NS, "revision": revision, "concurrency": concurrency, "requests": requests}],
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def writer() -> InMemoryScaleWriter:
    return InMemoryScaleWriter()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def service(writer: InMemoryScaleWriter, registry: CollectorRegistry, clock: Clock) -> AutoscalerService:
    svc = AutoscalerService(writer, registry, clock=clock)
    svc.upsert_revision(NS, REV, annotations={f"{G}/window": "6s"}, ready=1)
    return svc


@pytest.fixture
async def client(service: AutoscalerService, registry: CollectorRegistry) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(service, registry), host="127.0.0.1")) as test_client:
        yield test_client


async def advance(
    service: AutoscalerService,
    clock: Clock,
    seconds: int,
    client: Client | None = None,
    concurrency: float = 0.0,
) -> None:
    for _ in range(seconds):
        clock.now += 1
        if concurrency:
            if client is not None:
                response = await client.post("/stats", json=stats_body(concurrency))
                assert response.status == 204
            else:
                await service.handle_stats(stats.parse_stats(stats_body(concurrency)))
        if int(clock.now) % 2 == 0:
            await service.tick()


async def test_stats_drive_the_scale_and_the_status(
    service: AutoscalerService,
    client: Client,
    clock: Clock,
    writer: InMemoryScaleWriter,
) -> None:
    await advance(service, clock, 8, client, concurrency=350.0)
    assert writer.scales[(NS, DEPLOY)] == 5  # ceil(350 / 70)
    status = writer.statuses[(NS, REV)]
    assert status.desired_scale == 5
    assert status.actual_scale == 1
    assert status.active.status == "True"
    body = status.to_body()
    assert body["desiredScale"] == 5
    types = [c["type"] for c in body["conditions"]]
    assert types == ["Active", "Ready", "ScaleTargetInitialized"]
    assert body["conditions"][0]["lastTransitionTime"].endswith("Z")


async def test_idle_revision_scales_to_zero_and_a_poke_brings_it_back(
    service: AutoscalerService,
    client: Client,
    clock: Clock,
    writer: InMemoryScaleWriter,
) -> None:
    await advance(service, clock, 120)
    assert writer.scales[(NS, DEPLOY)] == 0
    service.observe(NS, REV, ready=0, replicas=0)
    await advance(service, clock, 2)
    status = writer.statuses[(NS, REV)]
    assert (status.active.status, status.active.reason) == ("False", "NoTraffic")
    assert status.ready.status == "False"
    assert service.last_desired(NS, REV) == 0
    writes_before = len(writer.scale_writes)
    clock.now += 0.3  # between ticks: only the poke can decide
    response = await client.post("/poke", json={"namespace": NS, "revision": REV})
    assert response.status == 202
    assert writer.scale_writes[writes_before:] == [(NS, DEPLOY, 1)]
    status = writer.statuses[(NS, REV)]
    assert (status.active.status, status.active.reason) == ("Unknown", "Queued")


async def test_stats_for_a_revision_at_zero_decide_at_once(
    service: AutoscalerService, clock: Clock, writer: InMemoryScaleWriter
) -> None:
    await advance(service, clock, 120)
    service.observe(NS, REV, ready=0, replicas=0)
    await advance(service, clock, 2)
    clock.now += 0.5
    await service.handle_stats(stats.parse_stats(stats_body(3.0)))
    assert writer.scales[(NS, DEPLOY)] == 1


@pytest.mark.parametrize(
    "body",
    [
        stats_body(-1.0),
        {
            "gateway": "g",
            "timestamp": 1.0,
            "stats": [{"namespace": NS, "revision": REV, "concurrency": 1, "requests": -2}],
        },
        {
            "gateway": "g",
            "timestamp": 1.0,
            "stats": [{"namespace": NS, "revision": REV, "concurrency": 1, "requests": 1.5}],
        },
        {"gateway": "g", "timestamp": 1.0, "stats": [{"namespace": NS, "concurrency": 1, "requests": 1}]},
        {"gateway": "g", "timestamp": "now", "stats": []},
        {"gateway": "", "timestamp": 1.0, "stats": []},
        {"gateway": "g", "timestamp": 1.0, "stats": "none"},
        ["not", "an", "object"],
    ],
)
async def test_invalid_stats_are_rejected_and_counted(
    client: Client,
    registry: CollectorRegistry,
    body: object,
) -> None:
    response = await client.post("/stats", json=body)
    assert response.status == 400
    assert (await response.json())["problems"]
    assert registry.get_sample_value("kwake_autoscaler_messages_rejected_total") == 1.0


async def test_nan_concurrency_is_rejected(client: Client, registry: CollectorRegistry) -> None:
    raw = (
        '{"gateway": "g", "timestamp": 1.0, "stats": [{"namespace": "default", '
        '"revision": "hello-00001", "concurrency": NaN, "requests": 1}]}'
    )
    response = await client.post("/stats", data=raw, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert registry.get_sample_value("kwake_autoscaler_stats_rejected_total") == 1.0


async def test_not_json_is_rejected(client: Client) -> None:
    response = await client.post("/stats", data=b"{oops")
    assert response.status == 400
    response = await client.post("/poke", json={"namespace": NS})
    assert response.status == 400


async def test_unknown_revisions_are_ignored_and_counted(
    client: Client,
    registry: CollectorRegistry,
    writer: InMemoryScaleWriter,
) -> None:
    response = await client.post("/stats", json=stats_body(50.0, revision="nobody-00001"))
    assert response.status == 204
    assert registry.get_sample_value("kwake_autoscaler_stats_unknown_revision_total") == 1.0
    response = await client.post("/poke", json={"namespace": NS, "revision": "nobody-00001"})
    assert response.status == 202
    assert registry.get_sample_value("kwake_autoscaler_stats_unknown_revision_total") == 2.0
    assert writer.scale_writes == []


async def test_metrics_per_revision_on_the_service_registry(
    service: AutoscalerService,
    client: Client,
    clock: Clock,
) -> None:
    await advance(service, clock, 8, client, concurrency=140.0)
    response = await client.get("/metrics")
    assert response.status == 200
    text = await response.text()
    labels = f'namespace_name="{NS}",revision_name="{REV}"'
    for name in (
        "autoscaler_desired_pods",
        "autoscaler_requested_pods",
        "autoscaler_actual_pods",
        "autoscaler_stable_request_concurrency",
        "autoscaler_panic_request_concurrency",
        "autoscaler_stable_requests_per_second",
        "autoscaler_panic_requests_per_second",
        "autoscaler_target_concurrency_per_pod",
        "autoscaler_panic_mode",
        "autoscaler_excess_burst_capacity",
    ):
        assert f"{name}{{{labels}}}" in text, name
    assert f"autoscaler_desired_pods{{{labels}}} 2.0" in text
    assert f"autoscaler_target_concurrency_per_pod{{{labels}}} 70.0" in text
    assert (
        REGISTRY.get_sample_value("autoscaler_desired_pods", {"namespace_name": NS, "revision_name": REV})
        is None
    )


async def test_a_deleted_deployment_is_forgotten(
    service: AutoscalerService, clock: Clock, writer: InMemoryScaleWriter
) -> None:
    writer.gone.add((NS, DEPLOY))
    await advance(service, clock, 8, concurrency=350.0)
    assert service.revisions() == []
    await advance(service, clock, 4, concurrency=350.0)  # later reports are just unknown


async def test_a_failed_write_is_retried_on_the_next_tick(registry: CollectorRegistry, clock: Clock) -> None:
    writer = FlakyWriter(failures=1)
    svc = AutoscalerService(writer, registry, clock=clock)
    svc.upsert_revision(NS, REV, ready=1)
    await advance(svc, clock, 6, concurrency=350.0)
    assert registry.get_sample_value("kwake_autoscaler_write_errors_total") == 1.0
    assert writer.scales[(NS, DEPLOY)] == 5


async def test_many_changes_are_written_concurrently_but_bounded(
    registry: CollectorRegistry, clock: Clock
) -> None:
    writer = CountingWriter()
    svc = AutoscalerService(writer, registry, clock=clock)
    names = [f"r{i:03d}-00001" for i in range(60)]
    for name in names:
        svc.upsert_revision(NS, name, ready=1, annotations={f"{G}/min-scale": "2"})
    await svc.tick()
    assert len(writer.scales) == 60
    assert 1 < writer.most_in_flight <= 16
    assert len(writer.statuses) == 60


class RemovingWriter(InMemoryScaleWriter):
    """The revision is deleted (by the cluster watcher) while its scale is being written."""

    def __init__(self) -> None:
        super().__init__()
        self.service: AutoscalerService | None = None

    async def set_scale(self, namespace: str, deployment: str, replicas: int) -> None:
        assert self.service is not None
        self.service.remove_revision(NS, REV)
        await super().set_scale(namespace, deployment, replicas)


async def test_a_revision_removed_during_its_write_is_not_a_crash(
    registry: CollectorRegistry, clock: Clock
) -> None:
    writer = RemovingWriter()
    svc = AutoscalerService(writer, registry, clock=clock)
    writer.service = svc
    svc.upsert_revision(NS, REV, ready=1, annotations={f"{G}/min-scale": "2"})
    await svc.tick()
    assert svc.revisions() == []
    assert writer.scales[(NS, DEPLOY)] == 2


async def test_config_reload_keeps_the_previous_config_on_errors(
    service: AutoscalerService, clock: Clock, writer: InMemoryScaleWriter
) -> None:
    problems = service.set_config({"stable-window": "1s", "max-scale-up-rate": "0"})
    assert len(problems) == 2
    assert service.config.stable_window == 60.0
    assert service.set_config({"container-concurrency-target-default": "10"}) == []
    assert service.config.container_concurrency_target_default == 10.0
    await advance(service, clock, 8, concurrency=35.0)
    assert writer.scales[(NS, DEPLOY)] == 5  # target 7 now


async def test_revisions_of_another_autoscaler_class_are_left_alone(service: AutoscalerService) -> None:
    service.upsert_revision(NS, "hpa-00001", annotations={f"{G}/class": "hpa.autoscaling.knative.dev"})
    assert [k.name for k in service.revisions()] == [REV]
    # A KPA revision switched to HPA is forgotten; a config default of HPA drops unannotated ones.
    service.upsert_revision(NS, REV, annotations={f"{G}/class": "hpa.autoscaling.knative.dev"})
    assert service.revisions() == []
    service.upsert_revision(NS, REV)
    assert service.set_config({"pod-autoscaler-class": "hpa.autoscaling.knative.dev"}) == []
    assert service.revisions() == []
    assert service.set_config({}) == []  # back to KPA: the unannotated revision returns
    assert [k.name for k in service.revisions()] == [REV]


async def test_invalid_annotations_are_reported_and_defaults_stand_in(service: AutoscalerService) -> None:
    problems = service.upsert_revision(NS, "bad-00001", annotations={f"{G}/window": "2s"})
    assert problems and "window" in problems[0]
    assert len(service.revisions()) == 2


async def test_status_conditions() -> None:
    status = PodAutoscalerStatus(
        desired_scale=-1,
        actual_scale=0,
        active=Condition("Active", "Unknown", "Queued", "buffered", 0.0),
        scale_target_initialized=Condition("ScaleTargetInitialized", "Unknown"),
    )
    assert status.ready.status == "Unknown"
    assert status.ready.reason == "Queued"
    assert status.to_body()["conditions"][0]["lastTransitionTime"] == "1970-01-01T00:00:00Z"


async def test_run_loop_records_idle_seconds_and_ticks_until_stopped(registry: CollectorRegistry) -> None:
    stop = asyncio.Event()

    class SteppingClock:
        """Half a second passes per reading; asks the loop to stop after ten seconds."""

        now = 1000.0

        def __call__(self) -> float:
            self.now += 0.5
            if self.now >= 1010.0:
                stop.set()
            return self.now

    svc = AutoscalerService(InMemoryScaleWriter(), registry, clock=SteppingClock())
    svc.upsert_revision(NS, REV, ready=1)
    await asyncio.wait_for(svc.run(stop, interval=2.0, idle_interval=0.0), timeout=5)
    ticks = registry.get_sample_value("kwake_autoscaler_ticks_total")
    assert ticks is not None and 3 <= ticks <= 5
    assert svc.last_desired(NS, REV) == 0  # the idle zeros gave the decider data


def test_stats_parsing_is_strict() -> None:
    message = stats.parse_stats(stats_body(2.5, requests=3))
    assert message.stats[0].concurrency == 2.5
    assert message.stats[0].requests == 3
    with pytest.raises(stats.InvalidMessage) as caught:
        stats.parse_stats({"gateway": "g", "timestamp": math.inf, "stats": [{"namespace": NS}]})
    assert caught.value.bad_stats == 1
    with pytest.raises(stats.InvalidMessage):
        stats.parse_stats(
            json.loads(
                '{"gateway": "g", "timestamp": 1, "stats": [{"namespace": "a", "revision": "b", '
                '"concurrency": true, "requests": 1}]}'
            )
        )


async def test_a_reconcile_between_ticks_settles_the_status_but_scales_down_once_per_tick(
    clock: Clock, writer: InMemoryScaleWriter, registry: CollectorRegistry
) -> None:
    svc = AutoscalerService(writer, registry, clock=clock)
    svc.upsert_revision(NS, REV, annotations={f"{G}/window": "6s"}, ready=8)
    svc.observe(NS, REV, replicas=8)
    for _ in range(60):  # idle: out of the restart panic, then down at most half per tick
        await advance(svc, clock, 2)
        if writer.scale_writes:
            break
    assert writer.scale_writes == [(NS, DEPLOY, 4)]
    svc.observe(NS, REV, ready=4)  # the Deployment controller removed four pods
    clock.now += 0.5
    await svc.reconcile(NS, REV)
    assert writer.scale_writes == [(NS, DEPLOY, 4)]  # no second halving before the next tick
    assert writer.statuses[(NS, REV)].actual_scale == 4  # but the status shows the pods at once
    await advance(svc, clock, 2)
    assert writer.scale_writes[-1] == (NS, DEPLOY, 2)


class GatedWriter(InMemoryScaleWriter):
    """Holds a scale-to-zero of the named Deployment until `gate` is set, as a slow API would."""

    def __init__(self, hold: str) -> None:
        super().__init__()
        self.hold = hold
        self.gate = asyncio.Event()
        self.blocked = asyncio.Event()

    async def set_scale(self, namespace: str, deployment: str, replicas: int) -> None:
        if deployment == self.hold and replicas == 0:
            self.blocked.set()
            await self.gate.wait()
        await super().set_scale(namespace, deployment, replicas)


async def test_a_poke_is_not_held_up_by_a_slow_write_and_the_latest_decision_wins(
    clock: Clock, registry: CollectorRegistry
) -> None:
    writer = GatedWriter(hold="slow-00001-deployment")
    svc = AutoscalerService(writer, registry, clock=clock)
    for rev in ("slow-00001", "cold-00001"):
        svc.upsert_revision(NS, rev, annotations={f"{G}/window": "6s"}, ready=1)

    async def idle_until_blocked() -> None:
        for _ in range(120):
            clock.now += 2
            await svc.tick()
            if writer.blocked.is_set():
                return

    ticking = asyncio.create_task(idle_until_blocked())
    await asyncio.wait_for(writer.blocked.wait(), 5)  # the tick's write for "slow" hangs
    assert writer.scales[(NS, "cold-00001-deployment")] == 0
    svc.observe(NS, "cold-00001", ready=0, replicas=0)
    clock.now += 0.5
    # Another revision's poke is decided and written while that write still hangs.
    assert await asyncio.wait_for(svc.poke(NS, "cold-00001"), 1)
    assert writer.scales[(NS, "cold-00001-deployment")] == 1
    assert not ticking.done()
    # A poke of the hanging revision waits for its write, then writes the newer decision.
    poking = asyncio.create_task(svc.poke(NS, "slow-00001"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not poking.done()
    writer.gate.set()
    assert await asyncio.wait_for(poking, 1)
    await asyncio.wait_for(ticking, 1)
    slow = [n for ns, dep, n in writer.scale_writes if dep == "slow-00001-deployment"]
    assert slow[-2:] == [0, 1]  # after the initial scale of 1
    assert writer.statuses[(NS, "slow-00001")].desired_scale == 1
