"""Counts each request into its revision's time-weighted concurrency, queued time included."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from activator.handlers.context import CONTEXT


def concurrency_middleware(clock: Callable[[], float]) -> Middleware:
    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        revision = request[CONTEXT].revision
        assert revision is not None, "the routing handler runs first"
        recorder = revision.recorder
        recorder.start(clock())
        try:
            return await handler(request)
        finally:
            recorder.end(clock())

    return count
