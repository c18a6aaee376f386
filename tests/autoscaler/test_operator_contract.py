"""The operator's PodAutoscaler builder feeds the autoscaler service: the PA contract."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from autoscaler.service import AutoscalerService
from autoscaler.writer import InMemoryScaleWriter
from serving.api.config import Config
from serving.api.types import Revision
from serving.reconciler.revision.resources.pod_autoscaler import make_pod_autoscaler


def revision(routing_state: str, annotations: dict[str, str]) -> Revision:
    body: dict[str, Any] = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {
            "name": "hello-00001",
            "namespace": "default",
            "uid": "hello-00001-uid",
            "generation": 1,
            "labels": {
                "serving.knative.dev/configuration": "hello",
                "serving.knative.dev/routingState": routing_state,
            },
            "annotations": annotations,
        },
        "spec": {
            "containerConcurrency": 4,
            "containers": [{"image": "example.com/hello", "ports": [{"containerPort": 8080}]}],
        },
    }
    return Revision.from_body(body)


async def test_a_built_podautoscaler_is_scaled_as_its_revision_asks() -> None:
    pa = make_pod_autoscaler(
        revision(
            "active", {"autoscaling.knative.dev/target": "10", "autoscaling.knative.dev/min-scale": "2"}
        ),
        Config(),
    )
    writer = InMemoryScaleWriter()
    service = AutoscalerService(writer, CollectorRegistry(), clock=lambda: 1000.0)
    assert service.upsert_podautoscaler(pa, ready=0) == []
    result = await service.tick()
    decision = result.decision(0)
    assert decision.target == pytest.approx(4 * 0.7)  # min(target 10, containerConcurrency 4) x 70 %
    assert decision.want == 2 and decision.apply  # min-scale, reachable
    assert writer.scales[("default", "hello-00001-deployment")] == 2


async def test_a_reserve_revision_is_unreachable() -> None:
    pa = make_pod_autoscaler(revision("reserve", {"autoscaling.knative.dev/min-scale": "2"}), Config())
    service = AutoscalerService(InMemoryScaleWriter(), CollectorRegistry(), clock=lambda: 1000.0)
    service.upsert_podautoscaler(pa, ready=0)
    assert (await service.tick()).decision(0).want != 2  # min-scale holds only routed revisions
