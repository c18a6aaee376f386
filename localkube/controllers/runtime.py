"""The machinery every controller here shares: a work queue drained by a few workers, and indexes.

`ReconcileLoop(name, reconcile)` runs `reconcile(key)` for keys added to `loop.queue`, never two
at once for the same key. `reconcile` returns None (done) or seconds after which to look again
(a deadline). An exception is logged and the key retried with per-key exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from localkube.client import WorkQueue, cancel_and_wait, create_guarded_task

Reconcile = Callable[[str], Awaitable[float | None]]


class ReconcileLoop:
    """Workers draining a `WorkQueue` into `reconcile`."""

    def __init__(
        self,
        name: str,
        reconcile: Reconcile,
        *,
        workers: int = 4,
        logger: logging.Logger | None = None,
        initial_retry: float = 0.01,
        max_retry: float = 30.0,
    ) -> None:
        self.name = name
        self.queue = WorkQueue()
        self._reconcile = reconcile
        self._workers = workers
        self._log = logger or logging.getLogger(__name__)
        self._initial_retry = initial_retry
        self._max_retry = max_retry
        self._failures: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [
            create_guarded_task(self._work(), f"{self.name}-worker-{i}", self._log)
            for i in range(self._workers)
        ]

    async def stop(self) -> None:
        self.queue.shut_down()
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(tasks)

    async def _work(self) -> None:
        while (key := await self.queue.get()) is not None:
            try:
                again = await self._reconcile(key)
            except asyncio.CancelledError:
                self.queue.done(key)
                raise
            except Exception as exc:
                failures = self._failures.get(key, 0)
                self._failures[key] = failures + 1
                delay = min(self._max_retry, self._initial_retry * 2**failures)
                self._log.warning(
                    "%s: reconciling %s failed (%s: %s); retry in %.2fs",
                    self.name,
                    key,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                self.queue.done(key)
                self.queue.add_after(key, delay)
                continue
            self._failures.pop(key, None)
            self.queue.done(key)
            if again is not None:
                self.queue.add_after(key, again)


class KeyIndex:
    """A reverse index: index value (an owner uid, a namespace) -> object keys."""

    def __init__(self) -> None:
        self._keys: dict[str, set[str]] = {}
        self._values: dict[str, str] = {}

    def set(self, key: str, value: str | None) -> None:
        """Index `key` under `value` (None removes it)."""
        previous = self._values.pop(key, None)
        if previous is not None:
            bucket = self._keys.get(previous)
            if bucket is not None:
                bucket.discard(key)
                if not bucket:
                    del self._keys[previous]
        if value is not None:
            self._values[key] = value
            self._keys.setdefault(value, set()).add(key)

    def get(self, value: str) -> Iterable[str]:
        return tuple(self._keys.get(value, ()))
