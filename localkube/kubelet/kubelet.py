"""The kubelet against the API: register a Node, bind and run pods, report their status.

Every change of a pod's status is written at once through the status subresource, one writer
task per pod (a write in flight is followed by one more with the latest status, never more):
a pod turning Ready is the hot path of a cold start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp

from localkube import certs
from localkube.client import (
    PODS,
    ApiClient,
    ApiError,
    Conflict,
    EventRecorder,
    Informer,
    NotFound,
    cancel_and_wait,
    create_guarded_task,
)
from localkube.kubelet import admission, apiobjects, logs, process, server, status
from localkube.kubelet import clock as clocks
from localkube.kubelet.pod import PodWorker
from localkube.kubelet.registration import Registration
from localkube.kubelet.runtime import Runtime

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 5.0
STATUS_RETRY_SECONDS = 0.5
BIND_ATTEMPTS = 5
STARTUP_ATTEMPTS = 40
EVENT_QUEUE_LIMIT = 1000
LOG_ROTATION_SECONDS = 10.0

EventKind = Literal["Normal", "Warning"]


@dataclass(frozen=True)
class KubeletConfig:
    state_dir: Path
    node_name: str = "localkube"
    port: int = 0
    register_webhook: bool = True
    clock: clocks.Clock = field(default_factory=clocks.SystemClock)
    shutdown_grace: float = SHUTDOWN_GRACE_SECONDS
    # Embedded in localkube the webhook stays registered while the kubelet is down, so no pod is
    # admitted without its own port (creation fails and controllers retry); against a foreign
    # cluster the kubelet removes it on the way out.
    keep_webhook: bool = False


def _meta(pod: dict[str, Any]) -> dict[str, Any]:
    meta = pod.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _uid(pod: dict[str, Any]) -> str:
    return str(_meta(pod).get("uid") or "")


class PodEntry:
    """A pod this kubelet runs: its worker, its status writer, its termination."""

    def __init__(self, worker: PodWorker) -> None:
        self.worker = worker
        self.dirty = asyncio.Event()
        self.writer: asyncio.Task[None] | None = None
        self.terminator: asyncio.Task[None] | None = None
        self.last_written: dict[str, Any] | None = None
        # While a deleted pod terminates its status is not written: a status update to a pod
        # with a deletionTimestamp may complete its deletion on some servers before the
        # processes are gone. Endpoints drop a pod once it has a deletionTimestamp anyway.
        self.paused = False
        self.bound = asyncio.Event()


class Kubelet:
    def __init__(self, client: ApiClient, config: KubeletConfig) -> None:
        self._client = client
        self._config = config
        self._clock = config.clock
        self._allocator = admission.PortAllocator()
        self._groups = process.GroupRecords(config.state_dir / "pids")
        self._pods: dict[str, PodEntry] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._runtime: Runtime | None = None
        self._informer: Informer | None = None
        self._events = EventRecorder(client, component="kubelet", host=config.node_name)
        self._event_queue: asyncio.Queue[tuple[dict[str, Any], str, str, EventKind]] = asyncio.Queue(
            EVENT_QUEUE_LIMIT
        )
        # Container groups a previous run left alive ({owner: record}), until the first list of
        # pods says which to adopt; the rest are killed then.
        self._survivors: dict[str, process.GroupRecord] = {}
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        state_dir = self._config.state_dir
        lock = process.StateDirLock(state_dir)
        try:
            await self._run(stop)
        finally:
            lock.release()

    async def _run(self, stop: asyncio.Event) -> None:
        state_dir = self._config.state_dir
        self._survivors = self._groups.survivors()
        await self._groups.kill_orphans(keep=frozenset(r.pid for r in self._survivors.values()))
        tls = certs.ensure_serving_cert(state_dir / "tls", "kubelet", ["127.0.0.1", "localhost"])
        app = server.build_app(self._allocator, server.LogIndex(self._pod_dir, self._is_writing))
        https = server.KubeletServer(app, tls.server_context(), self._config.port)
        await https.start()
        self.port = https.port
        registration = Registration(self._client, self._config.node_name, self.port, self._clock)
        informer: Informer | None = None
        heartbeat: asyncio.Task[None] | None = None
        events: asyncio.Task[None] | None = None
        rotation: asyncio.Task[None] | None = None
        async with aiohttp.ClientSession() as http:
            self._runtime = Runtime(
                clock=self._clock,
                http=http,
                objects=apiobjects.ApiObjects(self._client),
                state_dir=state_dir,
                groups=self._groups,
                base_env=dict(os.environ),
            )
            try:
                await self._with_retries(registration.register_node, stop)
                if self._config.register_webhook:
                    await self._with_retries(lambda: registration.register_webhook(tls.ca_pem), stop)
                heartbeat = create_guarded_task(registration.heartbeat(), "kubelet heartbeat", log)
                events = create_guarded_task(self._post_events(), "kubelet events", log)
                rotation = create_guarded_task(self._rotate_logs(), "kubelet log rotation", log)
                informer = Informer(
                    self._client,
                    PODS,
                    on_add=self._on_pod,
                    on_update=self._on_pod_update,
                    on_delete=self._on_pod_deleted,
                    name="kubelet pods",
                )
                self._informer = informer
                informer.start()
                if await _first(informer.wait_synced(), stop.wait()) == 0:
                    await self._kill_unadopted()
                    await asyncio.to_thread(self._remove_stale_pod_dirs, informer)
                log.info("kubelet %s running; HTTPS on 127.0.0.1:%d", self._config.node_name, self.port)
                await stop.wait()
            finally:
                self._stopping = True
                if informer is not None:
                    await informer.stop()
                await cancel_and_wait([task for task in (heartbeat, rotation) if task is not None])
                await self._shutdown_pods()
                await self._kill_unadopted()
                if events is not None:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(1.0):
                            await self._event_queue.join()  # the Killing events, if the API is quick
                    await cancel_and_wait([events])
                await cancel_and_wait(list(self._tasks))
                await self._best_effort(registration.unregister(keep_webhook=self._config.keep_webhook))
                await https.stop()

    async def _kill_unadopted(self) -> None:
        """The groups of a previous run that no pod of this node claimed (deleted meanwhile)."""
        survivors, self._survivors = list(self._survivors.values()), {}
        await self._groups.kill(survivors)

    def _claim(self, pod: dict[str, Any]) -> dict[str, process.AdoptedProcess]:
        """{container: process} a previous run left running for this bound pod, if every one of
        its containers still runs (else none: the pod starts afresh and the rest are killed).
        Pods with init containers are never adopted: their init state is not kept."""
        pod_spec = pod.get("spec") or {}
        if not self._survivors or pod_spec.get("initContainers") or _meta(pod).get("deletionTimestamp"):
            return {}
        key = f"{_meta(pod).get('namespace') or 'default'}_{_meta(pod).get('name')}_{_uid(pod)}"
        names = [str(c.get("name")) for c in pod_spec.get("containers") or []]
        records = [self._survivors.get(f"{key}/{name}") for name in names]
        if not names or any(record is None for record in records):
            return {}
        claimed: dict[str, process.AdoptedProcess] = {}
        for name, record in zip(names, records, strict=True):
            assert record is not None
            del self._survivors[record.owner]
            claimed[name] = process.AdoptedProcess(record.pid, record.start_ticks)
        return claimed

    async def _with_retries(self, step: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
        """Run a start-up step until it succeeds: the API server may still be starting."""
        for attempt in range(STARTUP_ATTEMPTS):
            try:
                await step()
                return
            except (ApiError, aiohttp.ClientError, OSError) as error:
                if attempt == STARTUP_ATTEMPTS - 1 or stop.is_set():
                    raise
                log.warning("kubelet start-up step failed (%s); retrying", error)
                await asyncio.sleep(min(2.0, 0.05 * 2**attempt))

    async def _best_effort(self, work: Awaitable[None], seconds: float = 2.0) -> None:
        try:
            async with asyncio.timeout(seconds):
                await work
        except (TimeoutError, ApiError, aiohttp.ClientError, OSError) as error:
            log.warning("kubelet shutdown step failed: %s", error)

    async def _shutdown_pods(self) -> None:
        """Stop every pod process (SIGTERM, bounded grace, SIGKILL) and report them not ready."""
        entries = list(self._pods.values())
        await asyncio.gather(
            *(
                entry.worker.stop(
                    min(entry.worker.pod.grace_seconds, self._config.shutdown_grace),
                    terminal=entry.terminator is not None,
                )
                for entry in entries
            )
        )
        await self._best_effort(
            self._write_statuses_now(
                [entry for entry in entries if entry.terminator is None and entry.bound.is_set()]
            )
        )
        for entry in entries:
            if entry.writer is not None:
                await cancel_and_wait([entry.writer])
            if entry.terminator is not None:
                await cancel_and_wait([entry.terminator])

    async def _write_statuses_now(self, entries: list[PodEntry]) -> None:
        await asyncio.gather(*(self._write_status(entry) for entry in entries), return_exceptions=True)

    def _spawn(self, work: Awaitable[None], name: str) -> None:
        async def run() -> None:
            await work

        task = create_guarded_task(run(), name, log)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- pods -----------------------------------------------------------------------------------

    async def _on_pod_update(self, _: dict[str, Any], pod: dict[str, Any]) -> None:
        entry = self._pods.get(_uid(pod))
        if entry is not None and entry.last_written is not None:
            written = status.foreign_conditions(entry.last_written)
            if status.foreign_conditions(pod.get("status") or {}) != written:
                entry.dirty.set()  # a readiness gate (or another writer's condition) changed
        await self._on_pod(pod)

    def _foreign_conditions(self, entry: PodEntry) -> list[dict[str, Any]]:
        identity = entry.worker.identity
        current = self._informer.get(identity.name, identity.namespace) if self._informer else None
        if current is None or _uid(current) != identity.uid:
            return status.foreign_conditions(entry.last_written or {})
        return status.foreign_conditions(current.get("status") or {})

    async def _on_pod(self, pod: dict[str, Any]) -> None:
        if self._stopping:
            return
        node_name = str((pod.get("spec") or {}).get("nodeName") or "")
        uid = _uid(pod)
        entry = self._pods.get(uid)
        terminal = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        if not node_name:
            if not _meta(pod).get("deletionTimestamp") and entry is None and not terminal:
                # Start at once, bind meanwhile: the bind round trip is not on the cold-start
                # path. Status is written only once the binding holds.
                bound = dict(pod)
                bound["spec"] = {**(pod.get("spec") or {}), "nodeName": self._config.node_name}
                entry = self._start(bound, bound=False)
                self._spawn(self._bind(pod, entry), f"bind {uid}")
            return
        if node_name != self._config.node_name:
            if entry is not None and not entry.bound.is_set():
                self._spawn(self._abandon(entry), f"abandon {uid}")  # another node won it
            return
        if _meta(pod).get("deletionTimestamp"):
            if entry is None:
                self._spawn(self._finalize_deletion(pod), f"finalize {uid}")
            elif entry.terminator is None:
                entry.terminator = create_guarded_task(self._terminate(entry, pod), f"terminate {uid}", log)
            return
        if entry is None and not terminal:
            self._start(pod)

    async def _on_pod_deleted(self, pod: dict[str, Any]) -> None:
        entry = self._pods.get(_uid(pod))
        if entry is not None and entry.terminator is None and not self._stopping:
            entry.terminator = create_guarded_task(
                self._terminate(entry, pod, gone=True), f"terminate {_uid(pod)}", log
            )

    async def _bind(self, pod: dict[str, Any], entry: PodEntry) -> None:
        """Bind the pod to this node (retrying transient failures); abandon it if that fails."""
        meta = _meta(pod)
        name, namespace = str(meta.get("name")), str(meta.get("namespace") or "default")
        for attempt in range(BIND_ATTEMPTS):
            try:
                await self._post_binding(pod)
            except Conflict:
                current = await self._client.get_or_none(PODS, name, namespace)
                mine = (current or {}).get("spec", {}).get("nodeName") == self._config.node_name
                if current is not None and _uid(current) == entry.worker.identity.uid and mine:
                    entry.bound.set()
                    return
                break
            except NotFound:
                break
            except (ApiError, aiohttp.ClientError, OSError) as error:
                log.warning("could not bind pod %s/%s (attempt %d): %s", namespace, name, attempt + 1, error)
                await asyncio.sleep(0.1 * 2**attempt)
                continue
            entry.bound.set()
            self._record(
                entry.worker,
                "Scheduled",
                f"Successfully assigned {namespace}/{name} to {self._config.node_name}",
                False,
            )
            return
        await self._abandon(entry)

    async def _post_binding(self, pod: dict[str, Any]) -> None:
        meta = _meta(pod)
        name, namespace = str(meta.get("name")), str(meta.get("namespace") or "default")
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": meta.get("uid")},
            "target": {"apiVersion": "v1", "kind": "Node", "name": self._config.node_name},
        }
        try:
            await self._client.create(PODS, binding, namespace, subresource="binding", name=name)
        except ApiError as error:
            if error.status not in (404, 405):
                raise
            if error.status == 404 and await self._client.get_or_none(PODS, name, namespace) is None:
                raise  # the pod is gone, not the binding subresource
            # No binding subresource here: set spec.nodeName directly, guarded by the uid.
            await self._client.patch(
                PODS,
                name,
                [
                    {"op": "test", "path": "/metadata/uid", "value": meta.get("uid")},
                    {"op": "add", "path": "/spec/nodeName", "value": self._config.node_name},
                ],
                namespace,
                patch_type="json",
            )

    async def _abandon(self, entry: PodEntry) -> None:
        """Stop a pod started ahead of a binding that did not happen; it is not ours to delete."""
        if entry.terminator is not None:
            return
        entry.paused = True
        entry.terminator = asyncio.current_task()
        await entry.worker.stop(0)
        if entry.writer is not None:
            await cancel_and_wait([entry.writer])
        self._forget(entry)

    def _start(self, pod: dict[str, Any], *, bound: bool = True) -> PodEntry:
        assert self._runtime is not None
        annotations = _meta(pod).get("annotations") or {}
        if admission.PORTS_ANNOTATION not in annotations:
            pod = admission.unadmitted_port_env(pod, self._allocator.allocate)
        self._allocator.reserve(admission.pod_ports(pod))
        adopted = self._claim(pod) if bound else {}
        worker = PodWorker(self._runtime, pod, self._status_changed, self._record, adopted)
        entry = PodEntry(worker)
        if bound:
            entry.bound.set()
        self._pods[worker.identity.uid] = entry
        entry.writer = create_guarded_task(self._status_writer(entry), f"status {worker.identity.key}", log)
        worker.start()
        entry.dirty.set()
        return entry

    def _record(self, worker: PodWorker, reason: str, message: str, warning: bool) -> None:
        """Queue an Event about the pod: never on the status hot path, dropped if too many wait."""
        body = {"kind": "Pod", "apiVersion": "v1", **worker.body}
        kind: EventKind = "Warning" if warning else "Normal"
        item = (body, reason, message, kind)
        entry = self._pods.get(worker.identity.uid)
        if entry is not None and not entry.bound.is_set():
            # Started ahead of its binding: tell it after "Scheduled", as a kubelet would.
            self._spawn(self._enqueue_once_bound(entry, item), f"event {reason}")
        else:
            self._enqueue(item)

    def _enqueue(self, item: tuple[dict[str, Any], str, str, EventKind]) -> None:
        try:
            self._event_queue.put_nowait(item)
        except asyncio.QueueFull:
            log.debug("event queue full; dropped %s", item[1])

    async def _enqueue_once_bound(
        self, entry: PodEntry, item: tuple[dict[str, Any], str, str, EventKind]
    ) -> None:
        if await _first(entry.bound.wait(), entry.worker.stopped.wait()) == 0:
            self._enqueue(item)

    async def _post_events(self) -> None:
        """One event at a time, so a burst of pod starts never floods the API server with them."""
        while True:
            body, reason, message, kind = await self._event_queue.get()
            await self._events.record(body, reason, message, type=kind)
            self._event_queue.task_done()

    def _status_changed(self, worker: PodWorker) -> None:
        entry = self._pods.get(worker.identity.uid)
        if entry is not None:
            entry.dirty.set()

    async def _status_writer(self, entry: PodEntry) -> None:
        await entry.bound.wait()
        while True:
            await entry.dirty.wait()
            entry.dirty.clear()
            if entry.paused:
                continue
            try:
                await self._write_status(entry)
            except NotFound:
                return
            except (ApiError, aiohttp.ClientError, OSError) as error:
                log.warning("could not write status of %s: %s", entry.worker.identity.key, error)
                entry.dirty.set()
                await asyncio.sleep(STATUS_RETRY_SECONDS)

    async def _write_status(self, entry: PodEntry) -> None:
        body = entry.worker.status(self._foreign_conditions(entry))
        if body == entry.last_written:
            return
        identity = entry.worker.identity
        await self._client.patch(
            PODS, identity.name, {"status": body}, identity.namespace, subresource="status"
        )
        entry.last_written = body

    async def _terminate(self, entry: PodEntry, pod: dict[str, Any], gone: bool = False) -> None:
        """Deletion: stop the containers within the grace period, report, then remove the pod."""
        grace_value = _meta(pod).get("deletionGracePeriodSeconds")
        grace = entry.worker.pod.grace_seconds if grace_value is None else float(grace_value)
        log.debug("terminating pod %s (grace %.1fs, gone=%s)", entry.worker.identity.key, grace, gone)
        entry.paused = True
        await entry.worker.stop(grace)
        if entry.writer is not None:
            await cancel_and_wait([entry.writer])
        if not gone:
            with contextlib.suppress(NotFound, Conflict):
                await self._write_status(entry)
            await self._finalize_deletion(pod)
        self._forget(entry)

    def _remove_stale_pod_dirs(self, informer: Informer) -> None:
        """Logs of pods deleted while the kubelet was away: nobody can ask for them any more."""
        known = {_uid(pod) for pod in informer.items()}
        for directory in (self._config.state_dir / "pods").glob("*_*_*"):
            if directory.name.rsplit("_", 1)[-1] not in known:
                _remove_tree(directory)

    def _forget(self, entry: PodEntry) -> None:
        identity = entry.worker.identity
        self._pods.pop(identity.uid, None)
        directory = logs.pod_dir(self._config.state_dir, identity)
        _remove_tree(directory)

    async def _finalize_deletion(self, pod: dict[str, Any]) -> None:
        meta = _meta(pod)
        with contextlib.suppress(NotFound, Conflict):
            await self._client.delete(
                PODS,
                str(meta.get("name")),
                str(meta.get("namespace") or "default"),
                grace_period_seconds=0,
                preconditions={"uid": str(meta.get("uid"))},
            )

    async def _rotate_logs(self) -> None:
        """Keep each running container's log under kubelet's 10Mi (checked every 10 s)."""
        while True:
            await self._clock.sleep(LOG_ROTATION_SECONDS)
            paths = [
                runner.log_path(runner.restart_count)
                for entry in list(self._pods.values())
                for runner in entry.worker.all_runners
                if runner.running
            ]
            for path in paths:
                if await asyncio.to_thread(logs.rotate_if_large, path):
                    log.info("rotated %s", path)

    # --- logs -----------------------------------------------------------------------------------

    def _pod_dir(self, namespace: str, name: str) -> Path | None:
        for entry in self._pods.values():
            identity = entry.worker.identity
            if identity.namespace == namespace and identity.name == name:
                return logs.pod_dir(self._config.state_dir, identity)
        return logs.find_pod_dir(self._config.state_dir, namespace, name)

    def _is_writing(self, path: Path) -> bool:
        for entry in self._pods.values():
            for runner in entry.worker.all_runners:
                if runner.running and runner.log_path(runner.restart_count) == path:
                    return True
        return False


async def _first(*awaitables: Awaitable[Any]) -> int:
    """Wait for whichever finishes first; returns its index (the others are cancelled)."""
    tasks = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(tasks)
    return next(index for index, task in enumerate(tasks) if task in done)


def _remove_tree(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
