"""Named, guarded background tasks: an unexpected exit is logged, never lost silently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any


def create_guarded_task(
    coro: Coroutine[Any, Any, None], name: str, logger: logging.Logger | None = None
) -> asyncio.Task[None]:
    """Start `coro` as a task called `name`; if it ends by an exception other than cancellation,
    log it (the owner still keeps the task and awaits it on shutdown)."""
    log = logger or logging.getLogger(__name__)
    task = asyncio.get_running_loop().create_task(coro, name=name)

    def _report(done: asyncio.Task[None]) -> None:
        if done.cancelled():
            return
        exc = done.exception()
        if exc is not None:
            log.error("background task %s failed", name, exc_info=exc)

    task.add_done_callback(_report)
    return task


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel the tasks and wait until every one has ended (errors were already logged)."""
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
