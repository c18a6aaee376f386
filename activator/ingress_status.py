"""The KIngress status the gateway owns, as a pure builder, and when it may say Ready.

A KIngress is Ready only once every gateway replica serves its current generation, so that a
Service never reports Ready while its URL would still 404 somewhere. Each replica tells what it
serves on its admin port (`GET /served`: `{"<namespace>/<name>": generation}`); whoever writes
status gathers those reports and calls `served_by_all`. The status shape follows Knative's
networking API: conditions Ready, LoadBalancerReady and NetworkConfigured, and the load
balancers as in-cluster domains of the gateway's Service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

GATEWAY_SERVICE = "kwake-gateway"
SYSTEM_NAMESPACE = "kwake-system"


def served_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def served_report(generations: Mapping[tuple[str, str], int]) -> dict[str, int]:
    """What one replica serves, in the `/served` wire form."""
    return {served_key(ns, name): generation for (ns, name), generation in sorted(generations.items())}


def served_by_all(namespace: str, name: str, generation: int, reports: Iterable[Mapping[str, int]]) -> bool:
    """True when every replica's report serves this generation of the ingress (or a newer one)."""
    key = served_key(namespace, name)
    reports = list(reports)
    return bool(reports) and all(report.get(key, -1) >= generation for report in reports)


def ingress_status(
    generation: int,
    ready: bool,
    *,
    service: str = GATEWAY_SERVICE,
    namespace: str = SYSTEM_NAMESPACE,
    cluster_domain: str = "cluster.local",
    now_rfc3339: str,
) -> dict[str, Any]:
    """The status subresource body for a KIngress at `generation`."""
    balancer = {"ingress": [{"domainInternal": f"{service}.{namespace}.svc.{cluster_domain}"}]}
    state = "True" if ready else "Unknown"

    def condition(kind: str, reason: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": kind, "status": state, "lastTransitionTime": now_rfc3339}
        if not ready and reason:
            body["reason"] = reason
            body["message"] = "Waiting for every gateway replica to serve this generation."
        return body

    return {
        "observedGeneration": generation,
        "conditions": [
            condition("LoadBalancerReady", "Uninitialized"),
            condition("NetworkConfigured", None),
            condition("Ready", "Uninitialized"),
        ],
        "publicLoadBalancer": balancer,
        "privateLoadBalancer": balancer,
    }
