"""KIngress conditions, written by the gateway: Ready = NetworkConfigured + LoadBalancerReady."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from serving.api.conditions import ConditionSet

READY: Final = "Ready"
NETWORK_CONFIGURED: Final = "NetworkConfigured"
LOAD_BALANCER_READY: Final = "LoadBalancerReady"
CONDITIONS: Final = ConditionSet(READY, (NETWORK_CONFIGURED, LOAD_BALANCER_READY))

Status = Mapping[str, Any] | None


def initialize(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.initialize(status, now)


def mark_network_configured(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_true(status, NETWORK_CONFIGURED, now)


def mark_load_balancer_ready(
    status: Status, public: Sequence[Mapping[str, Any]], private: Sequence[Mapping[str, Any]], now: float
) -> dict[str, Any]:
    """Record where the ingress is reachable (e.g. `[{"domainInternal": "..."}]`) and mark it ready."""
    out = dict(status or {})
    out["publicLoadBalancer"] = {"ingress": [dict(x) for x in public]}
    out["privateLoadBalancer"] = {"ingress": [dict(x) for x in private]}
    return CONDITIONS.mark_true(out, LOAD_BALANCER_READY, now)


def mark_load_balancer_not_ready(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_unknown(
        status, LOAD_BALANCER_READY, "Uninitialized", "Waiting for load balancer to be ready", now
    )


def mark_ingress_not_ready(status: Status, reason: str, message: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_unknown(status, LOAD_BALANCER_READY, reason, message, now)
