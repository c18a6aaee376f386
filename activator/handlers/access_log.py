"""One JSON line per request: time, host, method, path, status, bytes, duration, revision, pod,
queue wait and request id, handed to a line sink that writes off the event loop."""

from __future__ import annotations

import json
import time

from aiohttp import web

from activator.access_lines import LineSink
from activator.handlers.chain import Observer
from activator.handlers.context import RequestContext


def access_log_observer(lines: LineSink) -> Observer:
    def log(request: web.BaseRequest, ctx: RequestContext, status: int, size: int, duration: float) -> None:
        lines.write(_line(request, ctx, status, size, duration))

    return log


def _line(request: web.BaseRequest, ctx: RequestContext, status: int, size: int, duration: float) -> str:
    revision = ctx.revision.key if ctx.revision is not None else None
    return json.dumps(
        {
            "time": round(time.time(), 6),
            "host": request.host,
            "method": request.method,
            "path": request.raw_path,
            "status": status,
            "bytes": size,
            "duration": round(duration, 6),
            "namespace": revision.namespace if revision else None,
            "revision": revision.name if revision else None,
            "pod": str(ctx.pod) if ctx.pod else None,
            "queue_wait": round(ctx.queue_wait, 6),
            "request_id": ctx.request_id,
            "remote": request.remote,
        },
        separators=(",", ":"),
    )
