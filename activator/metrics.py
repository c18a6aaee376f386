"""The gateway's Prometheus metrics, on a registry of its own (never the global default)."""

from __future__ import annotations

import contextlib
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_COLD_START_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 300)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._request_children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}
        labels = ("namespace", "service", "revision", "code")
        self.requests = Counter(
            "kwake_gateway_requests", "Requests answered by the gateway.", labels, registry=registry
        )
        self.latency = Histogram(
            "kwake_gateway_request_duration_seconds",
            "Time from request arrival to the end of the response.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.queue_depth = Gauge(
            "kwake_gateway_queue_depth",
            "Requests waiting for a pod slot.",
            ("namespace", "revision"),
            registry=registry,
        )
        self.cold_start_wait = Histogram(
            "kwake_gateway_cold_start_wait_seconds",
            "Time requests for a revision with no ready pod waited for one.",
            ("namespace", "revision"),
            buckets=_COLD_START_BUCKETS,
            registry=registry,
        )
        self.pods = Gauge(
            "kwake_gateway_revision_pods",
            "Ready pods known per revision.",
            ("namespace", "revision"),
            registry=registry,
        )

    def observe_request(self, namespace: str, service: str, revision: str, code: int, seconds: float) -> None:
        key = (namespace, service, revision, code)
        children = self._request_children.get(key)
        if children is None:
            # `labels()` costs a lookup and a lock per call; the children are stable, keep them.
            labels = (namespace, service, revision, str(code))
            children = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def forget_revision(self, namespace: str, revision: str) -> None:
        for key in [k for k in self._request_children if k[0] == namespace and k[2] == revision]:
            del self._request_children[key]
        for gauge in (self.queue_depth, self.pods):
            with contextlib.suppress(KeyError):
                gauge.remove(namespace, revision)
