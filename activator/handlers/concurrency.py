"""Counts each request into its revision's time-weighted concurrency, queued time included."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from activator.handlers.context import CONTEXT, Handler


def concurrency_handler(clock: Callable[[], float], next_handler: Handler) -> Handler:
    async def count(request: web.BaseRequest) -> web.StreamResponse:
        revision = request[CONTEXT].revision
        assert revision is not None, "the routing handler runs first"
        recorder = revision.recorder
        recorder.start(clock())
        try:
            return await next_handler(request)
        finally:
            recorder.end(clock())

    return count
