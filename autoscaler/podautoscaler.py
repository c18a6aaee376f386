"""Reading PodAutoscaler and Deployment bodies (raw API JSON) into the service's inputs.

Pure functions for the Kubernetes side of the service: a PodAutoscaler
(`autoscaling.internal.knative.dev/v1alpha1`) carries the revision's autoscaling annotations,
containerConcurrency, reachability and scale target; its status, written by us before a restart,
seeds the Active condition; a Deployment's status gives the ready pods and its spec the replicas.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from autoscaler.kpa.decisions import PodAutoscalerSeed

API_VERSION = "autoscaling.internal.knative.dev/v1alpha1"
KIND = "PodAutoscaler"
REACHABILITY_UNREACHABLE = "Unreachable"


class InvalidBody(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class PodAutoscalerInfo:
    namespace: str
    name: str
    annotations: dict[str, str]
    container_concurrency: int
    deployment: str
    reachable: bool
    generation: int

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> PodAutoscalerInfo:
        meta = body.get("metadata") or {}
        spec = body.get("spec") or {}
        namespace, name = meta.get("namespace"), meta.get("name")
        if not isinstance(namespace, str) or not isinstance(name, str):
            raise InvalidBody("a PodAutoscaler needs metadata.namespace and metadata.name")
        target = spec.get("scaleTargetRef") or {}
        deployment = target.get("name") if isinstance(target, dict) else None
        if target and target.get("kind", "Deployment") != "Deployment":
            raise InvalidBody(f"{namespace}/{name}: only Deployments are scaled, not {target.get('kind')}")
        cc = spec.get("containerConcurrency") or 0
        annotations = meta.get("annotations") or {}
        return cls(
            namespace=namespace,
            name=name,
            annotations={str(k): str(v) for k, v in annotations.items()},
            container_concurrency=int(cc) if isinstance(cc, int) else 0,
            deployment=deployment if isinstance(deployment, str) and deployment else f"{name}-deployment",
            # "" (unknown) counts as reachable, as in Knative.
            reachable=spec.get("reachability") != REACHABILITY_UNREACHABLE,
            generation=int(meta.get("generation") or 0),
        )


def parse_time(text: str) -> float:
    """RFC 3339 as Kubernetes writes it (2026-01-02T03:04:05Z) to unix seconds."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def seed_from_body(body: dict[str, Any]) -> PodAutoscalerSeed | None:
    """The Active condition we wrote before a restart, or None when there is none yet."""
    conditions = (body.get("status") or {}).get("conditions") or []
    by_type = {c.get("type"): c for c in conditions if isinstance(c, dict)}
    active = by_type.get("Active")
    if active is None or active.get("status") not in ("True", "False", "Unknown"):
        return None
    try:
        since = parse_time(active["lastTransitionTime"])
    except (KeyError, TypeError, ValueError):
        since = 0.0
    initialized = (by_type.get("ScaleTargetInitialized") or {}).get("status") == "True"
    return PodAutoscalerSeed(
        active_status=active["status"],
        active_reason=str(active.get("reason") or ""),
        active_since=since,
        scale_target_initialized=initialized,
    )


def deployment_counts(body: dict[str, Any]) -> tuple[int, int | None]:
    """(ready pods, spec.replicas or None) of a Deployment body."""
    status = body.get("status") or {}
    spec = body.get("spec") or {}
    ready = status.get("readyReplicas") or 0
    replicas = spec.get("replicas")
    return (int(ready) if isinstance(ready, int) else 0, replicas if isinstance(replicas, int) else None)
