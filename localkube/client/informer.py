"""An informer: a local cache of one resource kept current by list + watch, with change handlers.

    informer = Informer(client, PODS, namespace=None, label_selector="app=web")
    informer.add_handlers(on_add=added, on_update=updated, on_delete=deleted)
    async with informer:                 # starts the background task
        await informer.wait_synced()     # the first list is in the cache
        pod = informer.get("web-1", "default")

How it behaves:
- lists, then watches from the list's resourceVersion; BOOKMARKs and events advance the RV;
- when a watch ends (server timeout, connection loss) it re-watches from the last RV;
- on 410 Gone (RV too old) it relists and reconciles the cache, calling the handlers for the
  differences (added, updated, deleted-while-away);
- any other failure is logged and retried with exponential backoff; it never dies on its own;
- handlers are awaited one at a time, in event order, after the cache is updated; a handler's
  exception is logged and does not stop the informer. Keep handlers quick (enqueue work).

Cache keys are `namespace/name` (just `name` for cluster-scoped objects); see `object_key`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from localkube.client import errors
from localkube.client.api import ApiClient
from localkube.client.resources import Resource
from localkube.client.tasks import cancel_and_wait, create_guarded_task

Obj = dict[str, Any]
AddHandler = Callable[[Obj], Awaitable[None]]
UpdateHandler = Callable[[Obj, Obj], Awaitable[None]]
DeleteHandler = Callable[[Obj], Awaitable[None]]

log = logging.getLogger(__name__)

_MIN_QUIET_WATCH = 1.0  # seconds: a watch that ends sooner without events counts as a failure


def object_key(obj: Mapping[str, Any]) -> str:
    """`namespace/name`, or `name` for a cluster-scoped object (as client-go's MetaNamespaceKeyFunc)."""
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace"), meta.get("name", "")
    return f"{namespace}/{name}" if namespace else str(name)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter between failed list/watch attempts."""

    initial: float = 0.05
    maximum: float = 10.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        base = min(self.maximum, self.initial * self.factor ** max(0, attempt))
        return base * (0.5 + random.random() / 2)  # jitter, not security


@dataclass
class _Handlers:
    on_add: AddHandler | None
    on_update: UpdateHandler | None
    on_delete: DeleteHandler | None


class Informer:
    """A list+watch cache of `resource` (optionally one namespace / selectors) with handlers."""

    def __init__(
        self,
        client: ApiClient,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        on_add: AddHandler | None = None,
        on_update: UpdateHandler | None = None,
        on_delete: DeleteHandler | None = None,
        watch_timeout_seconds: int = 300,
        backoff: Backoff = Backoff(),
        name: str | None = None,
    ) -> None:
        self._client = client
        self._resource = resource
        self._namespace = namespace
        self._label_selector = label_selector
        self._field_selector = field_selector
        self._watch_timeout = watch_timeout_seconds
        self._backoff = backoff
        self._name = name or f"informer:{resource.qualified_name}" + (f"/{namespace}" if namespace else "")
        self._handlers: list[_Handlers] = []
        if on_add or on_update or on_delete:
            self.add_handlers(on_add=on_add, on_update=on_update, on_delete=on_delete)
        self._cache: dict[str, Obj] = {}
        self._resource_version = ""
        self._task: asyncio.Task[None] | None = None
        self.synced = asyncio.Event()
        """Set once the first list is in the cache and its handlers have run."""

    # --- public --------------------------------------------------------------------------------

    @property
    def resource(self) -> Resource:
        return self._resource

    @property
    def resource_version(self) -> str:
        """The last resourceVersion seen (list, event or bookmark)."""
        return self._resource_version

    def add_handlers(
        self,
        *,
        on_add: AddHandler | None = None,
        on_update: UpdateHandler | None = None,
        on_delete: DeleteHandler | None = None,
    ) -> None:
        """Add a set of handlers (call before `start`, or they miss the initial adds)."""
        self._handlers.append(_Handlers(on_add, on_update, on_delete))

    def get(self, name: str, namespace: str | None = None) -> Obj | None:
        """The cached object, or None. Do not mutate it."""
        return self._cache.get(f"{namespace}/{name}" if namespace else name)

    def get_by_key(self, key: str) -> Obj | None:
        return self._cache.get(key)

    def items(self) -> list[Obj]:
        """A snapshot of every cached object. Do not mutate them."""
        return list(self._cache.values())

    def keys(self) -> list[str]:
        return list(self._cache)

    async def wait_synced(self) -> None:
        """Wait for the first list (bound it with `asyncio.timeout`)."""
        await self.synced.wait()

    def start(self) -> None:
        """Start the background list/watch task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = create_guarded_task(self._run(), self._name, log)

    async def stop(self) -> None:
        """Cancel the background task and wait for it to end."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait([task])

    async def __aenter__(self) -> Informer:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # --- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        need_list = True
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                    self.synced.set()
                loop = asyncio.get_running_loop()
                started = loop.time()
                if await self._watch_once() or loop.time() - started >= _MIN_QUIET_WATCH:
                    failures = 0
                else:
                    # Ended at once with nothing to say: a server (or proxy) closing watches
                    # early. Back off rather than spin.
                    await asyncio.sleep(self._backoff.delay(failures))
                    failures += 1
            except errors.Gone:
                log.debug("%s: resourceVersion %s expired; relisting", self._name, self._resource_version)
                need_list = True
            except Exception as exc:  # any failure is retried: an informer must outlive its server
                delay = self._backoff.delay(failures)
                failures += 1
                log.warning("%s: %s: %s; retrying in %.2fs", self._name, type(exc).__name__, exc, delay)
                await asyncio.sleep(delay)

    async def _relist(self) -> None:
        body = await self._client.list(
            self._resource, self._namespace, self._label_selector, self._field_selector
        )
        fresh = {object_key(item): item for item in body.get("items") or []}
        self._resource_version = str((body.get("metadata") or {}).get("resourceVersion") or "")
        old = self._cache
        self._cache = dict(fresh)
        for key, obj in old.items():
            if key not in fresh:
                await self._dispatch_delete(obj)
        for key, obj in fresh.items():
            previous = old.get(key)
            if previous is None:
                await self._dispatch_add(obj)
            elif _rv(previous) != _rv(obj):
                await self._dispatch_update(previous, obj)

    async def _watch_once(self) -> bool:
        """Follow one watch stream to its end; True if it carried any event."""
        seen = False
        # Jitter the server-side timeout so many informers do not reconnect in lockstep.
        timeout = int(self._watch_timeout * (1 + random.random()))
        stream = self._client.watch(
            self._resource,
            self._namespace,
            resource_version=self._resource_version or None,
            label_selector=self._label_selector,
            field_selector=self._field_selector,
            timeout_seconds=timeout,
        )
        async with contextlib.aclosing(stream) as events:
            async for event in events:
                seen = True
                if event.resource_version:
                    self._resource_version = event.resource_version
                if event.type == "BOOKMARK":
                    continue
                obj = event.object
                obj.setdefault("kind", self._resource.kind)
                obj.setdefault("apiVersion", self._resource.api_version)
                key = object_key(obj)
                if event.type == "DELETED":
                    self._cache.pop(key, None)
                    await self._dispatch_delete(obj)
                    continue
                previous = self._cache.get(key)
                self._cache[key] = obj
                if previous is None:
                    await self._dispatch_add(obj)
                else:
                    await self._dispatch_update(previous, obj)
        return seen

    # --- handlers ------------------------------------------------------------------------------

    async def _dispatch_add(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                await self._call(h.on_add(obj))

    async def _dispatch_update(self, old: Obj, new: Obj) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                await self._call(h.on_update(old, new))

    async def _dispatch_delete(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                await self._call(h.on_delete(obj))

    async def _call(self, awaitable: Awaitable[None]) -> None:
        try:
            await awaitable
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: a handler failed", self._name)


def _rv(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")
