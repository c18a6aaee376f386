"""The gateway's request metrics read exactly as prometheus_client's own Counter and Histogram
would for the same observations (the collector replaces them on the hot path)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from activator.metrics import _LATENCY_BUCKETS, GatewayMetrics

LABELS = ("namespace", "service", "revision", "code")
# Values on bucket bounds, between them, below the first and above the last.
OBSERVED = [
    (("default", "hello", "hello-00001", 200), seconds)
    for seconds in (0.0, 0.0005, 0.001, 0.0011, 0.0025, 0.3, 1.0, 2.5, 299.0, 300.0, 301.0, 1e6)
] + [(("default", "hello", "hello-00001", 503), 0.01), (("other", "svc", "svc-00002", 200), 0.02)]


def _samples(registry: CollectorRegistry) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items())), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_request_metrics_read_as_prometheus_clients_own() -> None:
    ours = GatewayMetrics(CollectorRegistry())
    reference = CollectorRegistry()
    counter = Counter("kwake_gateway_requests", "x", LABELS, registry=reference)
    histogram = Histogram(
        "kwake_gateway_request_duration_seconds", "x", LABELS, buckets=_LATENCY_BUCKETS, registry=reference
    )
    for (namespace, service, revision, code), seconds in OBSERVED:
        ours.observe_request(namespace, service, revision, code, seconds)
        counter.labels(namespace, service, revision, str(code)).inc()
        histogram.labels(namespace, service, revision, str(code)).observe(seconds)
    expected = _samples(reference)
    got = {s for s in _samples(ours.registry) if s[0].startswith(("kwake_gateway_request",))}
    assert got == expected
    assert (
        "kwake_gateway_requests_total",
        (("code", "200"), ("namespace", "default"), ("revision", "hello-00001"), ("service", "hello")),
        12.0,
    ) in got


def test_forgetting_a_revision_keeps_its_request_counts() -> None:
    metrics = GatewayMetrics(CollectorRegistry())
    metrics.observe_request("default", "hello", "hello-00001", 200, 0.01)
    metrics.pods.labels("default", "hello-00001").set(1)
    metrics.forget_revision("default", "hello-00001")
    names = {s[0] for s in _samples(metrics.registry)}
    assert "kwake_gateway_requests_total" in names
    assert "kwake_gateway_revision_pods" not in names
