"""Request count and latency by namespace, service, revision and status code."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from activator.handlers.access_log import CLIENT_CLOSED
from activator.handlers.context import CONTEXT, Handler
from activator.metrics import GatewayMetrics


def metrics_handler(metrics: GatewayMetrics, clock: Callable[[], float], next_handler: Handler) -> Handler:
    async def record(request: web.BaseRequest) -> web.StreamResponse:
        status = 500
        try:
            response = await next_handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            raise
        finally:
            ctx = request[CONTEXT]
            rev = ctx.revision
            metrics.observe_request(
                rev.key.namespace if rev else "",
                ctx.path.service if ctx.path else "",
                rev.key.name if rev else "",
                status,
                clock() - ctx.started,
            )

    return record
