"""Request count and latency by namespace, service, revision and status code."""

from __future__ import annotations

from activator.handlers.chain import Observer
from activator.handlers.context import RequestContext
from activator.handlers.exchange import Exchange
from activator.metrics import GatewayMetrics


def metrics_observer(metrics: GatewayMetrics) -> Observer:
    def record(request: Exchange, ctx: RequestContext, status: int, size: int, duration: float) -> None:
        rev = ctx.revision
        metrics.observe_request(
            rev.key.namespace if rev else "",
            ctx.path.service if ctx.path else "",
            rev.key.name if rev else "",
            status,
            duration,
        )

    return record
