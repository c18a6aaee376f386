"""Shared pieces of the autoscaler's tests against a real localkube API server: the CRD, a
revision's Deployment and PodAutoscaler as the operator writes them, and the Deployment
controller's part (ready pods follow the scale), played by the test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from autoscaler.kube import PODAUTOSCALERS
from localkube.client import CRDS, DEPLOYMENTS, NAMESPACES, AlreadyExists, ApiClient, NotFound

NS = "default"
SYSTEM = "kwake-system"
CRD_FILE = Path(__file__).resolve().parents[2] / "crds" / "podautoscaler.yaml"
G = "autoscaling.knative.dev"


async def eventually(check: Callable[[], bool | Awaitable[bool]], *, within: float = 10.0) -> None:
    """Poll `check` until it holds: waits for watch events and API writes, never for a clock."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        outcome = check()
        if outcome if isinstance(outcome, bool) else await outcome:
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.01)


async def prepare_cluster(client: ApiClient) -> None:
    """The system namespace and the PodAutoscaler CRD, served before this returns."""
    with contextlib.suppress(AlreadyExists):
        await client.create(NAMESPACES, {"metadata": {"name": SYSTEM}})
    await client.create(CRDS, yaml.safe_load(CRD_FILE.read_text()))

    async def served() -> bool:
        try:
            await client.list(PODAUTOSCALERS, NS)
        except NotFound:
            return False
        return True

    await eventually(served)


def deployment_body(revision: str, replicas: int) -> dict[str, Any]:
    labels = {"serving.knative.dev/revision": revision, "app": revision}
    return {
        "metadata": {"name": f"{revision}-deployment", "namespace": NS, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": revision}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "user-container", "image": "example.com/hello"}]},
            },
        },
    }


def podautoscaler_body(
    revision: str, *, container_concurrency: int = 0, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    """As `make_pod_autoscaler` writes it for a routed revision."""
    return {
        "apiVersion": "autoscaling.internal.knative.dev/v1alpha1",
        "kind": "PodAutoscaler",
        "metadata": {
            "name": revision,
            "namespace": NS,
            "labels": {"serving.knative.dev/revision": revision},
            "annotations": {
                f"{G}/class": "kpa.autoscaling.knative.dev",
                f"{G}/metric": "concurrency",
                **(annotations or {}),
            },
        },
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": f"{revision}-deployment",
            },
            "protocolType": "http1",
            "reachability": "Reachable",
            "containerConcurrency": container_concurrency,
        },
    }


async def create_revision(client: ApiClient, revision: str, *, replicas: int = 0, **pa: Any) -> None:
    await client.create(DEPLOYMENTS, deployment_body(revision, replicas), NS)
    await set_ready(client, revision, replicas)
    await client.create(PODAUTOSCALERS, podautoscaler_body(revision, **pa), NS)


async def scale_of(client: ApiClient, revision: str) -> int:
    scale = await client.get(DEPLOYMENTS, f"{revision}-deployment", NS, subresource="scale")
    return int(scale["spec"].get("replicas") or 0)


async def set_ready(client: ApiClient, revision: str, ready: int) -> None:
    """The Deployment controller's part: `ready` pods of the revision are ready."""
    await client.patch(
        DEPLOYMENTS,
        f"{revision}-deployment",
        {"status": {"replicas": ready, "readyReplicas": ready, "availableReplicas": ready}},
        NS,
        subresource="status",
    )


async def follow_scale(client: ApiClient, revision: str) -> int:
    """Every pod asked for becomes ready at once; returns how many."""
    replicas = await scale_of(client, revision)
    await set_ready(client, revision, replicas)
    return replicas


async def pa_status(client: ApiClient, revision: str) -> dict[str, Any]:
    body = await client.get(PODAUTOSCALERS, revision, NS)
    status = body.get("status")
    return status if isinstance(status, dict) else {}


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    for cond in status.get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}
