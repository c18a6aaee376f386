"""Reading PodAutoscaler and Deployment bodies into the service's inputs."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from autoscaler import podautoscaler as pa
from autoscaler.service import AutoscalerService
from autoscaler.writer import InMemoryScaleWriter

G = "autoscaling.knative.dev"


def body(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": pa.API_VERSION,
        "kind": pa.KIND,
        "metadata": {
            "namespace": "default",
            "name": "hello-00001",
            "generation": 3,
            "annotations": {f"{G}/target": "10", f"{G}/window": "6s"},
        },
        "spec": {
            "containerConcurrency": 5,
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "hello-00001-deployment",
            },
            "protocolType": "http1",
            **spec,
        },
    }


def test_info_from_a_podautoscaler() -> None:
    info = pa.PodAutoscalerInfo.from_body(body(reachability="Reachable"))
    assert (info.namespace, info.name, info.deployment) == (
        "default",
        "hello-00001",
        "hello-00001-deployment",
    )
    assert info.container_concurrency == 5
    assert info.reachable
    assert info.generation == 3
    assert info.annotations[f"{G}/target"] == "10"


@pytest.mark.parametrize(
    ("reachability", "reachable"), [("Reachable", True), ("Unreachable", False), ("", True)]
)
def test_reachability(reachability: str, reachable: bool) -> None:
    assert pa.PodAutoscalerInfo.from_body(body(reachability=reachability)).reachable is reachable


def test_bad_bodies() -> None:
    with pytest.raises(pa.InvalidBody):
        pa.PodAutoscalerInfo.from_body({"metadata": {}})
    with pytest.raises(pa.InvalidBody):
        pa.PodAutoscalerInfo.from_body(body(scaleTargetRef={"kind": "StatefulSet", "name": "x"}))


def test_seed_from_status() -> None:
    b = body()
    assert pa.seed_from_body(b) is None
    b["status"] = {
        "conditions": [
            {
                "type": "Active",
                "status": "False",
                "reason": "NoTraffic",
                "lastTransitionTime": "2026-01-02T03:04:05Z",
            },
            {
                "type": "ScaleTargetInitialized",
                "status": "True",
                "lastTransitionTime": "2026-01-02T03:00:00Z",
            },
        ]
    }
    seed = pa.seed_from_body(b)
    assert seed is not None
    assert (seed.active_status, seed.active_reason, seed.scale_target_initialized) == (
        "False",
        "NoTraffic",
        True,
    )
    assert seed.active_since == pa.parse_time("2026-01-02T03:04:05Z")


def test_deployment_counts() -> None:
    assert pa.deployment_counts({"spec": {"replicas": 3}, "status": {"readyReplicas": 2}}) == (2, 3)
    assert pa.deployment_counts({"spec": {}, "status": {}}) == (0, None)


async def test_service_takes_a_podautoscaler() -> None:
    svc = AutoscalerService(InMemoryScaleWriter(), CollectorRegistry(), clock=lambda: 1000.0)
    assert svc.upsert_podautoscaler(body(), ready=1) == []
    spec_target = svc.revisions()
    assert [(k.namespace, k.name) for k in spec_target] == [("default", "hello-00001")]
    result = await svc.tick()
    decision = result.decision(0)
    assert decision.target == pytest.approx(3.5)  # min(target 10, CC 5) x 0.7
