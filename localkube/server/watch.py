"""Fan-out of store changes to open watches.

A watch registers and snapshots (or replays) without awaiting in between, so no change can fall
into the gap; after that, each change reaches it through its own queue, in resourceVersion order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from localkube.store.sqlite import Change


@dataclass(eq=False)
class Watcher:
    group_resource: str
    namespace: str | None
    max_queued: int = 100_000
    queue: asyncio.Queue[Change | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def offer(self, change: Change) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= self.max_queued:
            # A consumer this far behind is cut off; it reconnects from its last resourceVersion.
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(change)

    def close(self) -> None:
        self.queue.put_nowait(None)


@dataclass
class WatchHub:
    _watchers: dict[str, set[Watcher]] = field(default_factory=dict)

    def register(self, group_resource: str, namespace: str | None) -> Watcher:
        watcher = Watcher(group_resource, namespace)
        self._watchers.setdefault(group_resource, set()).add(watcher)
        return watcher

    def unregister(self, watcher: Watcher) -> None:
        bucket = self._watchers.get(watcher.group_resource)
        if bucket is not None:
            bucket.discard(watcher)

    def publish(self, change: Change) -> None:
        for watcher in self._watchers.get(change.group_resource, ()):
            if watcher.namespace is None or watcher.namespace == change.namespace:
                watcher.offer(change)

    def close_all(self) -> None:
        for bucket in self._watchers.values():
            for watcher in bucket:
                watcher.close()

    def count(self) -> int:
        return sum(len(b) for b in self._watchers.values())
