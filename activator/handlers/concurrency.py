"""Counts each request into its revision's time-weighted concurrency, queued time included."""

from __future__ import annotations

from collections.abc import Callable

from activator.handlers.context import Handler
from activator.handlers.exchange import Exchange, Reply


def concurrency_handler(clock: Callable[[], float], next_handler: Handler) -> Handler:
    async def count(request: Exchange) -> Reply:
        revision = request.ctx.revision
        assert revision is not None, "the routing handler runs first"
        recorder = revision.recorder
        recorder.start(clock())
        try:
            return await next_handler(request)
        finally:
            recorder.end(clock())

    return count
