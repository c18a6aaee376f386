"""A deduplicating work queue of keys, for level-based controllers (as client-go's workqueue).

A key added many times before a worker takes it is processed once; a key added while a worker
holds it is processed again after `done` (so no change is missed, and one key never runs on two
workers at once). `add_after` re-queues a key later (e.g. to check a deadline).

    queue = WorkQueue()
    queue.add("ns/name")
    while (key := await queue.get()) is not None:   # None once shut down
        try:
            await reconcile(key)
        finally:
            queue.done(key)
"""

from __future__ import annotations

import asyncio


class WorkQueue:
    """Keys to process; see the module docstring. Must be used from one event loop."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._shut_down = False

    def __len__(self) -> int:
        return len(self._dirty)

    def add(self, key: str) -> None:
        if self._shut_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.put_nowait(key)

    def add_after(self, key: str, delay: float) -> None:
        """Add `key` after `delay` seconds; an earlier pending delay for the key wins."""
        if self._shut_down:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        if existing is not None:
            if existing.when() <= loop.time() + delay:
                return
            existing.cancel()
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.add(key)

    async def get(self) -> str | None:
        """The next key (now held by the caller until `done`), or None once shut down."""
        while True:
            key = await self._queue.get()
            if key is None:
                self._queue.put_nowait(None)  # wake the next waiting worker too
                return None
            if key in self._dirty:
                self._dirty.discard(key)
                self._processing.add(key)
                return key

    def done(self, key: str) -> None:
        """The caller finished `key`; if it was added meanwhile, queue it again."""
        self._processing.discard(key)
        if key in self._dirty and not self._shut_down:
            self._queue.put_nowait(key)

    def shut_down(self) -> None:
        """Stop handing out keys: every `get` returns None from now on; pending timers are dropped."""
        self._shut_down = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._queue.put_nowait(None)
