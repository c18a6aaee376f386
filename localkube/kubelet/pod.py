"""One pod: a runner per container, the pod's status, graceful termination."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from localkube.kubelet import clock as clocks
from localkube.kubelet import process, spec, status
from localkube.kubelet.container import Adoption, ContainerRunner
from localkube.kubelet.runtime import Runtime

log = logging.getLogger(__name__)


def resumed_restart_count(previous: dict[str, Any], name: str, field: str = "containerStatuses") -> int:
    """The restartCount a container starts from when a kubelet replaces an earlier run of it.

    The earlier process is gone (killed as an orphan), so this start is one more restart.
    """
    for container in previous.get(field) or []:
        if container.get("name") == name:
            state = container.get("state") or {}
            ran = "running" in state or "terminated" in state or bool(container.get("lastState"))
            return int(container.get("restartCount") or 0) + (1 if ran else 0)
    return 0


def adoption(previous: dict[str, Any], name: str, found: process.AdoptedProcess) -> Adoption:
    """Take over container `name`'s running process with what the pod's last status said of it."""
    for container in previous.get("containerStatuses") or []:
        if container.get("name") == name:
            running = (container.get("state") or {}).get("running") or {}
            return Adoption(
                found,
                str(running.get("startedAt") or ""),
                ready=bool(container.get("ready")),
                started=bool(container.get("started", True)),
            )
    return Adoption(found, "", ready=False, started=False)


def _restart_count(previous: dict[str, Any], name: str, adopted: Mapping[str, Any]) -> int:
    """An adopted container goes on with the same run, so its count stays as it was."""
    if name not in adopted:
        return resumed_restart_count(previous, name)
    for container in previous.get("containerStatuses") or []:
        if container.get("name") == name:
            return int(container.get("restartCount") or 0)
    return 0


class PodWorker:
    """Runs a pod's containers and reports every change of its status through `on_change`."""

    def __init__(
        self,
        runtime: Runtime,
        body: dict[str, Any],
        on_change: Callable[[PodWorker], None],
        record: Callable[[PodWorker, str, str, bool], None] | None = None,
        adopted: Mapping[str, process.AdoptedProcess] | None = None,
    ) -> None:
        """`adopted`: {container name: its process left running by a previous kubelet run}."""
        adopted = adopted or {}
        self._record_event = record
        self.pod = spec.Pod.from_body(body)
        self.body = body
        self._runtime = runtime
        self._on_change = on_change
        previous = dict(body.get("status") or {})
        self._previous = previous
        self.start_time = str(previous.get("startTime") or clocks.rfc3339(runtime.clock.wall()))
        pod_spec = body.get("spec") or {}
        init_bodies = list(pod_spec.get("initContainers") or [])
        # Init containers run once each, in order, before the others; they are retried on failure
        # unless the pod's restartPolicy is Never (kube's rule).
        init_policy = "Never" if self.pod.restart_policy == "Never" else "OnFailure"
        self.init_runners = [
            ContainerRunner(
                runtime,
                self.pod,
                container,
                self._changed,
                resumed_restart_count(previous, str(container["name"]), "initContainerStatuses"),
                restart_policy=init_policy,
                record=self._record,
            )
            for container in init_bodies
        ]
        self.runners = [
            ContainerRunner(
                runtime,
                self.pod,
                container,
                self._changed,
                _restart_count(previous, str(container["name"]), adopted),
                initial_reason="PodInitializing" if init_bodies else "ContainerCreating",
                record=self._record,
                adopt=(
                    adoption(previous, str(container["name"]), adopted[str(container["name"])])
                    if str(container["name"]) in adopted
                    else None
                ),
            )
            for container in pod_spec.get("containers") or []
        ]
        self.initialized = not init_bodies
        self.readiness_gates = [
            str(gate.get("conditionType"))
            for gate in pod_spec.get("readinessGates") or []
            if gate.get("conditionType")
        ]
        self.init_failed = False
        self._tasks: list[asyncio.Task[None]] = []
        self.terminating = False
        self.stopping = False
        self.stopped = asyncio.Event()

    @property
    def identity(self) -> spec.PodIdentity:
        return self.pod.identity

    def _changed(self) -> None:
        self._on_change(self)

    def _record(self, reason: str, message: str, warning: bool) -> None:
        if self._record_event is not None:
            self._record_event(self, reason, message, warning)

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run(), name=f"pod {self.identity.key}"))

    async def _run(self) -> None:
        for runner in self.init_runners:
            await runner.run()
            if self.stopping:
                return
            if runner.exit_code != 0:
                self.init_failed = True  # restartPolicy Never: the pod has failed
                self._changed()
                return
        if self.init_runners:
            self.initialized = True
            self._changed()
        await asyncio.gather(
            *(
                asyncio.create_task(
                    runner.run(), name=f"container {self.identity.key}/{runner.container.name}"
                )
                for runner in self.runners
            )
        )

    @property
    def all_runners(self) -> list[ContainerRunner]:
        return [*self.init_runners, *self.runners]

    @property
    def ready(self) -> bool:
        return not self.stopping and all(runner.ready for runner in self.runners)

    @property
    def finished(self) -> bool:
        """All containers ended and none will restart (restartPolicy Never/OnFailure)."""
        return bool(self.runners) and all(runner.finished for runner in self.runners)

    def status(self, foreign: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
        """The pod's status now; `foreign` are the conditions other writers set (kept as they are)."""
        containers = [runner.status() for runner in self.runners]
        if self.stopping:
            containers = [container | {"ready": False} for container in containers]
        body = status.pod_status(
            self.pod.restart_policy,
            containers,
            init_containers=[runner.status() for runner in self.init_runners],
            initialized=self.initialized,
            init_failed=self.init_failed,
            gates=self.readiness_gates,
            foreign=foreign,
            now=clocks.rfc3339(self._runtime.clock.wall()),
            start_time=self.start_time,
            previous=self._previous,
            terminal=self.stopped.is_set() and self.terminating,
        )
        self._previous = body
        return body

    def runner(self, name: str) -> ContainerRunner | None:
        for runner in self.all_runners:
            if runner.container.name == name:
                return runner
        return None

    async def stop(self, grace: float | None = None, *, terminal: bool = True) -> None:
        """Stop every container (preStop, SIGTERM, grace, SIGKILL) and wait until all are gone.

        `terminal` (deletion) makes the pod's phase final; a kubelet that merely shuts down
        leaves it to be restarted in place when the kubelet comes back.
        """
        self.terminating = terminal
        self.stopping = True
        # Not ready from the first moment of termination, so Endpoints drop the pod before SIGTERM.
        self._changed()
        for runner in self.all_runners:
            runner.request_stop(grace)
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("container of %s failed: %r", self.identity.key, result)
        self.stopped.set()
        self._changed()
