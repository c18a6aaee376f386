"""The gateway's Prometheus metrics, on a registry of its own (never the global default)."""

from __future__ import annotations

import bisect
import contextlib
import itertools
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_COLD_START_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 300)


_REQUEST_LABELS = ("namespace", "service", "revision", "code")
RequestKey = tuple[str, str, str, int]


class _Series:
    __slots__ = ("buckets", "count", "total")

    def __init__(self, buckets: int) -> None:
        self.count = 0
        self.total = 0.0
        self.buckets = [0] * buckets


class RequestMetrics(Collector):
    """Request count and latency by namespace, service, revision and code, kept as plain numbers
    and rendered when scraped. prometheus_client's Counter.inc and Histogram.observe take a lock
    each and walk the buckets in Python, about 2 us a request; here it is a dict look-up and a
    bisect. Scrapes run on the gateway's event loop, so nothing needs a lock."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self._series: dict[RequestKey, _Series] = {}

    def observe(self, key: RequestKey, seconds: float) -> None:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(len(self._bounds) + 1)
        series.count += 1
        series.total += seconds
        # A request on a bucket's bound counts in it (le), as prometheus_client's do.
        series.buckets[bisect.bisect_left(self._bounds, seconds)] += 1

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "kwake_gateway_requests", "Requests answered by the gateway.", labels=_REQUEST_LABELS
        )
        latency = HistogramMetricFamily(
            "kwake_gateway_request_duration_seconds",
            "Time from request arrival to the end of the response.",
            labels=_REQUEST_LABELS,
        )
        # repr() writes these bounds as prometheus_client does ("0.001", "1.0", "300.0").
        bounds = [repr(float(b)) for b in self._bounds] + ["+Inf"]
        for (namespace, service, revision, code), series in self._series.items():
            labels = [namespace, service, revision, str(code)]
            requests.add_metric(labels, series.count)
            cumulative = list(zip(bounds, itertools.accumulate(series.buckets), strict=True))
            latency.add_metric(labels, cumulative, series.total)
        yield requests
        yield latency


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = RequestMetrics(_LATENCY_BUCKETS)
        registry.register(self.requests)
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
        self.requests.observe((namespace, service, revision, code), seconds)

    def forget_revision(self, namespace: str, revision: str) -> None:
        # Request counts stay: a counter that vanished would read as a reset.
        for gauge in (self.queue_depth, self.pods):
            with contextlib.suppress(KeyError):
                gauge.remove(namespace, revision)
