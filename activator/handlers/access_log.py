"""One JSON line per request, and the request's context created first so inner handlers share it.

A client that goes away before its answer is logged with status 499 (as nginx does); the
cancellation then continues to unwind, which closes the upstream request.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable

from aiohttp import web

from activator.access_lines import LineSink
from activator.handlers.context import CONTEXT, Handler, RequestContext

CLIENT_CLOSED = 499


def new_request_id() -> str:
    return os.urandom(16).hex()


def access_log_handler(lines: LineSink | None, clock: Callable[[], float], next_handler: Handler) -> Handler:
    async def access_log(request: web.BaseRequest) -> web.StreamResponse:
        ctx = RequestContext(
            request_id=request.headers.get("X-Request-Id") or new_request_id(), started=clock()
        )
        request[CONTEXT] = ctx
        status, size = 500, 0
        try:
            response = await next_handler(request)
            # A buffered response is written after this returns: its declared length is its size.
            status = response.status
            size = response.body_length or response.content_length or 0
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            raise
        finally:
            if lines is not None:
                lines.write(_line(request, ctx, status, size, clock() - ctx.started))

    return access_log


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
