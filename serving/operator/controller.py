"""Work queues and workers: the level-based loop behind the kopf handlers.

kopf watches; its handlers only say which objects to look at (`enqueue`). One deduplicating
queue per kind hands each key to one worker at a time; the reconcile function reads what is and
converges, returning when to look again. Failures are logged and retried with back-off, so a
bad object never crash-loops the operator.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from localkube.client import ApiError
from localkube.client.tasks import cancel_and_wait, create_guarded_task
from localkube.client.workqueue import WorkQueue
from serving.operator import configuration, revision, route, service
from serving.operator.context import OperatorContext

log = logging.getLogger("kwake.operator.controller")

Reconcile = Callable[[OperatorContext, str, str], Awaitable[float | None]]

KINDS: dict[str, Reconcile] = {
    "Service": service.reconcile,
    "Configuration": configuration.reconcile,
    "Revision": revision.reconcile,
    "Route": route.reconcile,
}
MAX_BACKOFF = 30.0


@dataclass
class Controller:
    ctx: OperatorContext
    workers_per_kind: int = 4
    queues: dict[str, WorkQueue] = field(default_factory=dict)
    known: dict[str, set[str]] = field(default_factory=dict)
    _failures: dict[str, int] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def enqueue(self, kind: str, namespace: str, name: str, delay: float = 0.0) -> None:
        key = f"{namespace}/{name}"
        self.known.setdefault(kind, set()).add(key)
        queue = self.queues.get(kind)
        if queue is None:
            return  # not started (or stopping): the resync at start picks it up
        if delay > 0:
            queue.add_after(key, delay)
        else:
            queue.add(key)

    def forget(self, kind: str, namespace: str, name: str) -> None:
        self.known.get(kind, set()).discard(f"{namespace}/{name}")

    def resync(self) -> None:
        """Look at every known object again (after a Config change)."""
        for kind, keys in self.known.items():
            for key in list(keys):
                ns, _, name = key.partition("/")
                self.enqueue(kind, ns, name)

    async def start(self) -> None:
        for kind in KINDS:
            self.queues[kind] = WorkQueue()
        for kind in KINDS:
            for i in range(self.workers_per_kind):
                self._tasks.append(
                    create_guarded_task(self._work(kind), name=f"reconcile-{kind.lower()}-{i}")
                )
        self.resync()

    async def stop(self) -> None:
        for queue in self.queues.values():
            queue.shut_down()
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        self.queues.clear()

    async def _work(self, kind: str) -> None:
        queue = self.queues[kind]
        reconcile = KINDS[kind]
        while (key := await queue.get()) is not None:
            ns, _, name = key.partition("/")
            try:
                requeue = await reconcile(self.ctx, ns, name)
            except asyncio.CancelledError:
                raise
            except (TimeoutError, ApiError, OSError) as e:
                self._retry(kind, key, f"{type(e).__name__}: {e}")
            except Exception:  # a bug must not stop the loop for every other object
                log.exception("reconciling %s %s failed", kind, key)
                self._retry(kind, key, "unexpected error")
            else:
                self._failures.pop(f"{kind}/{key}", None)
                if requeue is not None:
                    queue.add_after(key, requeue)
            finally:
                queue.done(key)

    def _retry(self, kind: str, key: str, why: str) -> None:
        n = self._failures.get(f"{kind}/{key}", 0) + 1
        self._failures[f"{kind}/{key}"] = n
        delay = min(MAX_BACKOFF, 0.2 * 2 ** min(n, 10))
        log.warning("reconciling %s %s failed (%s); retrying in %.1fs", kind, key, why, delay)
        self.queues[kind].add_after(key, delay)
