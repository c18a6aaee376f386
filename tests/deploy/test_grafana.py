"""deploy/grafana/kwake.json reads only metrics (and labels) the gateway and autoscaler expose."""

from __future__ import annotations

import json
import re
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from activator.metrics import GatewayMetrics
from autoscaler.service import AutoscalerService
from autoscaler.writer import InMemoryScaleWriter
from tests.deploy.manifests import DEPLOY

DASHBOARD = DEPLOY / "grafana" / "kwake.json"
# Per-revision autoscaler gauges carry Knative's label names (autoscaler/metrics.py).
AUTOSCALER_REVISION_LABELS = {"namespace_name", "revision_name"}
PROMQL_WORDS = {"sum", "by", "rate", "max", "histogram_quantile", "clamp_min", "label_values", "le"}


def _exposed(registry: CollectorRegistry) -> dict[str, set[str]]:
    """Series names a scrape can return -> the label names seen on their samples."""
    text = generate_latest(registry).decode()
    names: dict[str, set[str]] = {}
    for kind_line in re.finditer(r"^# TYPE (\S+) (\S+)$", text, re.M):
        name, kind = kind_line.groups()
        suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
        for suffix in suffixes:
            names.setdefault(name + suffix, set())
    for sample in re.finditer(r"^(\w+)\{([^}]*)\}", text, re.M):
        labels = {pair.split("=")[0] for pair in sample.group(2).split(",") if pair}
        names.setdefault(sample.group(1), set()).update(labels)
    return names


def exposed_metrics() -> dict[str, set[str]]:
    gateway = CollectorRegistry()
    metrics = GatewayMetrics(gateway)
    metrics.observe_request("ns", "svc", "rev", 200, 0.01)
    metrics.queue_depth.labels("ns", "rev").set(1)
    metrics.cold_start_wait.labels("ns", "rev").observe(1.0)
    metrics.pods.labels("ns", "rev").set(1)
    autoscaler = CollectorRegistry()
    AutoscalerService(InMemoryScaleWriter(), autoscaler)
    out = _exposed(gateway) | _exposed(autoscaler)
    for name in out:
        if name.startswith("autoscaler_"):
            out[name] |= AUTOSCALER_REVISION_LABELS
    return out


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return exprs


def test_every_query_reads_an_exposed_metric_with_its_labels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exposed = exposed_metrics()
    used: set[str] = set()
    for expr in _exprs(dashboard):
        for selector in re.finditer(r"\b([a-z_]+)(\{[^}]*\})?", expr):
            name, matchers = selector.group(1), selector.group(2) or ""
            if name in PROMQL_WORDS or not name.startswith(("kwake_", "autoscaler_")):
                continue
            assert name in exposed, f"{name} is not a metric kwake exposes"
            used.add(name)
            labels = set(re.findall(r"(\w+)\s*=~?", matchers))
            assert labels <= exposed[name], f"{name} has no label {labels - exposed[name]}"
        grouped = re.findall(r"by \(([^)]*)\)", expr)
        for group in grouped:
            for label in (g.strip() for g in group.split(",")):
                assert any(label in exposed.get(n, set()) for n in used) or label == "le", (label, expr)
    # Each component's headline series is on the dashboard.
    assert {"kwake_gateway_requests_total", "kwake_gateway_request_duration_seconds_bucket"} <= used
    assert {"autoscaler_desired_pods", "autoscaler_actual_pods", "kwake_autoscaler_leader"} <= used


def test_panels_have_unique_ids_a_datasource_variable_and_fit_the_grid() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["gridPos"]["x"] >= 0 and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
            assert panel["targets"]
    assert any(v["type"] == "datasource" for v in dashboard["templating"]["list"])
