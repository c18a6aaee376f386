"""The autoscaler's Prometheus metrics, on a registry passed in (never the global one).

Per-revision gauges use Knative's autoscaler metric names with `namespace_name` and
`revision_name` labels, so dashboards built for Knative read them. They are produced at scrape
time from a snapshot of the autoscaler's arrays: with 10,000 revisions, setting labelled gauges
on every tick would cost more than the tick itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily

from autoscaler.kpa.decisions import TickResult

_LABELS = ["namespace_name", "revision_name"]

# (metric name, help, TickResult field, only revisions whose decider has data)
_GAUGES: tuple[tuple[str, str, str, bool], ...] = (
    ("autoscaler_desired_pods", "Pods the decider wants", "desired", True),
    ("autoscaler_requested_pods", "Pods requested of the Deployment", "want", False),
    ("autoscaler_actual_pods", "Ready pods", "ready", False),
    (
        "autoscaler_stable_request_concurrency",
        "Average concurrency over the stable window",
        "stable_concurrency",
        True,
    ),
    (
        "autoscaler_panic_request_concurrency",
        "Average concurrency over the panic window",
        "panic_concurrency",
        True,
    ),
    ("autoscaler_stable_requests_per_second", "Request rate over the stable window", "stable_rps", True),
    ("autoscaler_panic_requests_per_second", "Request rate over the panic window", "panic_rps", True),
    ("autoscaler_panic_mode", "1 while the revision is in panic mode", "panic", True),
    (
        "autoscaler_excess_burst_capacity",
        "Ready capacity minus burst capacity minus load",
        "excess_burst_capacity",
        True,
    ),
)


class RevisionGauges:
    """A prometheus collector reading per-revision values from `snapshot()` at scrape time."""

    def __init__(self, snapshot: Callable[[], TickResult]) -> None:
        self._snapshot = snapshot

    def describe(self) -> list[Any]:
        return []  # label sets change with the revisions; let the registry collect lazily

    def collect(self) -> Iterator[Any]:
        snap = self._snapshot()
        names = [(key.namespace, key.name) for key in snap.keys]
        known = snap.desired >= 0
        for name, doc, field, needs_data in _GAUGES:
            family = GaugeMetricFamily(name, doc, labels=_LABELS)
            values = np.asarray(getattr(snap, field), dtype=np.float64)
            for i, labels in enumerate(names):
                if needs_data and not known[i]:
                    continue
                if field == "want" and values[i] < 0:
                    continue
                family.add_metric(list(labels), float(values[i]))
            yield family
        for name, doc, rps in (
            ("autoscaler_target_concurrency_per_pod", "Target concurrency per pod", False),
            ("autoscaler_target_requests_per_second", "Target requests per second per pod", True),
        ):
            family = GaugeMetricFamily(name, doc, labels=_LABELS)
            for i, labels in enumerate(names):
                if bool(snap.is_rps[i]) == rps:
                    family.add_metric(list(labels), float(snap.target[i]))
            yield family


class AutoscalerMetrics:
    def __init__(self, registry: CollectorRegistry, snapshot: Callable[[], TickResult]) -> None:
        registry.register(RevisionGauges(snapshot))

        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, registry=registry)

        self.stats_received = counter("kwake_autoscaler_stats_received", "Per-revision stats accepted")
        self.stats_rejected = counter(
            "kwake_autoscaler_stats_rejected", "Stats in messages rejected as invalid"
        )
        self.messages_rejected = counter("kwake_autoscaler_messages_rejected", "Gateway messages rejected")
        self.stats_unknown = counter("kwake_autoscaler_stats_unknown_revision", "Stats for unknown revisions")
        self.pokes = counter("kwake_autoscaler_pokes", "Pokes received from gateways")
        self.scale_writes = counter("kwake_autoscaler_scale_writes", "Writes to a Deployment's scale")
        self.status_writes = counter("kwake_autoscaler_status_writes", "Writes of a PodAutoscaler's status")
        self.write_errors = counter("kwake_autoscaler_write_errors", "Failed scale or status writes")
        self.ticks = counter("kwake_autoscaler_ticks", "Decision ticks over all revisions")
        self.forwarded = counter(
            "kwake_autoscaler_forwarded", "Gateway messages a standby passed to the leader"
        )
        self.forward_errors = counter(
            "kwake_autoscaler_forward_errors", "Gateway messages a standby could not pass to the leader"
        )
        self.leader = Gauge(
            "kwake_autoscaler_leader",
            "1 while this replica writes scales (holds the Lease)",
            registry=registry,
        )
        self.leader.set(1)
