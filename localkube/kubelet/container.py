"""One container: start its process, probe it, restart it with back-off, stop it gracefully.

The runner owns its process for its whole life and keeps a Kubernetes-shaped status for it;
every change calls `on_change` at once, so the pod status can be written without delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localkube.kubelet import backoff, logs, probes, process, spec
from localkube.kubelet import clock as clocks
from localkube.kubelet import env as envs
from localkube.kubelet.runtime import Runtime, cancel_all, within

log = logging.getLogger(__name__)

CONFIG_RETRY_SECONDS = 2.0
POST_START_LIMIT_SECONDS = 120.0
POD_HOST = "127.0.0.1"

# (reason, message, warning): the kubelet turns these into core v1 Events about the pod.
Recorder = Callable[[str, str, bool], None]


def _ignore(reason: str, message: str, warning: bool) -> None:
    del reason, message, warning


def waiting(reason: str, message: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"reason": reason}
    if message:
        body["message"] = message
    return {"waiting": body}


def no_command_message(container: spec.Container) -> str:
    return (
        f'container "{container.name}" has no command: localkube runs containers as local '
        f'processes and cannot run the image "{container.image}"; set command (and args) to '
        "the program to run"
    )


@dataclass(frozen=True)
class Adoption:
    """This container's process left running by a previous run of the kubelet, and what the
    pod's status last said of it: the runner takes it over rather than start another, so the
    pod neither restarts nor turns NotReady."""

    process: process.AdoptedProcess
    started_at: str  # RFC 3339, the running state's startedAt
    ready: bool
    started: bool


def wants_restart(policy: str, code: int) -> bool:
    if policy == "Always":
        return True
    if policy == "OnFailure":
        return code != 0
    return False


class ContainerRunner:
    """Runs one container of a pod until asked to stop (or until it ends for good)."""

    def __init__(
        self,
        runtime: Runtime,
        pod: spec.Pod,
        body: dict[str, Any],
        on_change: Callable[[], None],
        restart_count: int = 0,
        *,
        restart_policy: str | None = None,
        initial_reason: str = "ContainerCreating",
        record: Recorder = _ignore,
        adopt: Adoption | None = None,
    ) -> None:
        self._record = record
        self._adopt = adopt
        self._resuming = False  # set while an adopted process's probes start
        self.container = spec.Container.from_body(body)
        self._restart_policy = restart_policy or pod.restart_policy
        self._body = body
        self._runtime = runtime
        self._pod = pod
        self._on_change = on_change
        self._backoff = backoff.CrashBackoff()
        self._stop = asyncio.Event()
        self._kill = asyncio.Event()
        self._grace = pod.grace_seconds
        self.restart_count = restart_count
        self.state: dict[str, Any] = waiting(initial_reason)
        self.last_state: dict[str, Any] = {}
        self.container_id = ""
        self.ready = False
        self.started = False
        self.finished = False
        self.pid: int | None = None
        self.exit_code: int | None = None
        self._failed_probe = ""
        self._started_wall = ""
        if adopt is not None:
            # The first status written must already say what the previous run's last one did:
            # a moment of "ContainerCreating, not ready" would take the pod out of its Endpoints.
            self.state = {"running": {"startedAt": adopt.started_at}} if adopt.started_at else self.state
            self.ready, self.started = adopt.ready, adopt.started
            self.pid = adopt.process.pid
            self.container_id = f"process://{adopt.process.pid}"

    @property
    def clock(self) -> clocks.Clock:
        return self._runtime.clock

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.container.name,
            "image": self.container.image,
            "imageID": "",
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.container_id:
            body["containerID"] = self.container_id
        return body

    @property
    def running(self) -> bool:
        return "running" in self.state

    def log_path(self, attempt: int) -> Path:
        return logs.log_path(self._runtime.state_dir, self._pod.identity, self.container.name, attempt)

    def request_stop(self, grace: float | None = None) -> None:
        if grace is not None:
            self._grace = grace
        self._stop.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            outcome = await self._run_once()
            if outcome is None or self._stop.is_set():
                return
            code, started_at, finished_at = outcome
            if not wants_restart(self._restart_policy, code):
                self.finished = True
                self._changed()
                return
            delay = self._backoff.on_exit(started_at, finished_at)
            self.last_state = dict(self.state)
            if delay > 0:
                pod = self._pod.identity
                self._record(
                    "BackOff",
                    f"Back-off restarting failed container {self.container.name} in pod {pod.name}",
                    True,
                )
                self.state = waiting(
                    "CrashLoopBackOff",
                    f"back-off {int(delay)}s restarting failed container={self.container.name} "
                    f"pod={pod.name}_{pod.namespace}({pod.uid})",
                )
                self._changed()
                if await self._stopped_within(delay):
                    return
            self.restart_count += 1

    async def _stopped_within(self, seconds: float) -> bool:
        return await within(self._stop.wait(), seconds, self.clock) is not None

    def _changed(self) -> None:
        self._on_change()

    async def _resolve_env(self) -> dict[str, str] | None:
        while True:
            try:
                return await envs.container_env(
                    self._runtime.objects, self._pod.body, self._body, self._runtime.base_env
                )
            except envs.ContainerConfigError as error:
                if self.state.get("waiting", {}).get("message") != str(error):
                    self._record("Failed", f"Error: {error}", True)
                self.state = waiting("CreateContainerConfigError", str(error))
                self._changed()
                if await self._stopped_within(CONFIG_RETRY_SECONDS):
                    return None

    def _terminated(self, code: int, reason: str, started: str, message: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {
            "exitCode": code,
            "reason": reason,
            "startedAt": started,
            "finishedAt": clocks.rfc3339(self.clock.wall()),
        }
        if message:
            body["message"] = message
        if self.container_id:
            body["containerID"] = self.container_id
        return {"terminated": body}

    async def _run_once(self) -> tuple[int, float, float] | None:
        """One run of the process: (exit code, start, finish), or None if it never can run."""
        if not self.container.command:
            self.state = waiting("CreateContainerError", no_command_message(self.container))
            self._changed()
            self._record("Failed", f"Error: {no_command_message(self.container)}", True)
            await self._stop.wait()
            return None
        env = await self._resolve_env()
        if env is None:
            return None
        started_at = self.clock.monotonic()
        log_path = self.log_path(self.restart_count)
        adoption, self._adopt = self._adopt, None
        proc: process.ProcessHandle
        if adoption is not None:
            proc = adoption.process
            started_wall = adoption.started_at or clocks.rfc3339(self.clock.wall())
            self.ready, self.started, self._resuming = adoption.ready, adoption.started, True
            log.info(
                "adopted %s/%s, still running as pid %d",
                self._pod.identity.key,
                self.container.name,
                proc.pid,
            )
        else:
            started_wall = clocks.rfc3339(self.clock.wall())
            if self.restart_count >= 2:
                logs.prune(log_path.parent, self.restart_count)
            try:
                proc = await process.spawn(
                    envs.argv(self.container, env),
                    env,
                    self.container.working_dir,
                    log_path,
                )
            except process.StartError as error:
                self.exit_code = 128
                self.state = self._terminated(128, "StartError", started_wall, str(error))
                self._changed()
                self._record(
                    "Failed", f"Error: failed to start container {self.container.name!r}: {error}", True
                )
                return 128, started_at, self.clock.monotonic()
            self._runtime.groups.add(proc.pid, self._pod.identity.key + "/" + self.container.name)
            log.debug("started %s/%s as pid %d", self._pod.identity.key, self.container.name, proc.pid)
        self.pid = proc.pid
        self.container_id = f"process://{proc.pid}"
        self.exit_code = None
        self._kill.clear()
        self._started_wall = started_wall
        if adoption is not None:
            self.state = {"running": {"startedAt": started_wall}}  # no new Started event: it did not start
            self._changed()
        elif self.container.post_start is None:
            self._mark_running()
        try:
            returncode = await self._supervise(proc, env)
        finally:
            if proc.returncode is None:
                # Cancelled: never leave the process behind.
                process.signal_group(proc.pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    await asyncio.shield(proc.wait())
            process.kill_session(proc.pid)
            self._runtime.groups.remove(proc.pid)
            self.ready = False
            self.started = False
        code = process.exit_code(returncode)
        if adoption is not None and returncode == process.UNKNOWN_EXIT:
            code = 0 if self._stop.is_set() else 1  # stopped by us, or ended on its own: a failure
        log.debug(
            "%s/%s (pid %d) exited with %d", self._pod.identity.key, self.container.name, proc.pid, code
        )
        self.exit_code = code
        message = logs.termination_message(log_path) if code != 0 and self.container.logs_on_error else ""
        self.state = self._terminated(code, "Completed" if code == 0 else "Error", started_wall, message)
        self._changed()
        return code, started_at, self.clock.monotonic()

    def _mark_running(self) -> None:
        self.state = {"running": {"startedAt": self._started_wall}}
        self._changed()
        self._record("Started", f"Started container {self.container.name}", False)

    async def _supervise(self, proc: process.ProcessHandle, env: dict[str, str]) -> int:
        actions = probes.ActionRunner(self.container, POD_HOST, env, self._runtime.http)
        prober = asyncio.create_task(self._probe(actions), name=f"probes {self.container.name}")
        exited = asyncio.ensure_future(proc.wait())
        stopped = asyncio.ensure_future(self._stop.wait())
        killed = asyncio.ensure_future(self._kill.wait())
        try:
            await asyncio.wait({exited, stopped, killed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_all([prober])
            for waiter in (exited, stopped, killed):
                if not waiter.done():
                    waiter.cancel()
        if proc.returncode is not None:
            return proc.returncode
        if self._stop.is_set():
            return await self._shutdown(proc, actions)
        log.info("container %s of %s failed its probe; restarting", self.container.name, self._pod.identity)
        self._record(
            "Killing",
            f"Container {self.container.name} failed {self._failed_probe}, will be restarted",
            False,
        )
        return await process.terminate(proc, self._grace, self.clock)

    async def _shutdown(self, proc: process.ProcessHandle, actions: probes.ActionRunner) -> int:
        """preStop (bounded by the grace period), then SIGTERM, the rest of the grace, SIGKILL."""
        log.debug(
            "stopping %s/%s (pid %d), grace %.1fs",
            self._pod.identity.key,
            self.container.name,
            proc.pid,
            self._grace,
        )
        self._record("Killing", f"Stopping container {self.container.name}", False)
        deadline = self.clock.monotonic() + self._grace
        if self.container.pre_stop is not None and self._grace > 0:
            await within(actions.check(self.container.pre_stop, self._grace), self._grace, self.clock)
        remaining = max(0.0, deadline - self.clock.monotonic())
        return await process.terminate(proc, remaining, self.clock)

    def _unhealthy(self, probe: str) -> Callable[[str], None]:
        def report(failure: str) -> None:
            self._record("Unhealthy", f"{probe} probe failed: {failure}", True)

        return report

    def _set_ready(self, ready: bool) -> None:
        if ready != self.ready:
            self.ready = ready
            self._changed()

    def _fail_startup(self, ok: bool) -> None:
        if not ok:
            self._failed_probe = "startup probe"
            self._kill.set()

    def _fail_liveness(self, ok: bool) -> None:
        if not ok:
            self._failed_probe = "liveness probe"
            self._kill.set()

    async def _probe(self, actions: probes.ActionRunner) -> None:
        container = self.container
        # An adopted process ran its postStart hook and startup probe under the previous kubelet,
        # and keeps the readiness its status had until its probe says otherwise.
        resuming, self._resuming = self._resuming, False
        if container.post_start is not None and not resuming:
            # Like kubelet, the container is reported running only once its postStart hook
            # returned; a failed hook kills it (and the restart policy decides what follows).
            if not await actions.check(container.post_start, POST_START_LIMIT_SECONDS):
                self._failed_probe = "postStart hook"
                self._record(
                    "FailedPostStartHook", f"PostStartHook of container {container.name} failed", True
                )
                self._kill.set()
                return
            self._mark_running()
        if container.startup is not None and not (resuming and self.started):
            startup = container.startup
            await probes.probe_loop(
                startup,
                lambda timeout: actions.failure(startup.action, timeout),
                self.clock,
                self._fail_startup,
                initial=None,
                until_success=True,
                on_unhealthy=self._unhealthy("Startup"),
            )
        self.started = True
        loops = []
        if container.readiness is not None:
            readiness = container.readiness
            self._changed()
            loops.append(
                probes.probe_loop(
                    readiness,
                    lambda timeout: actions.failure(readiness.action, timeout),
                    self.clock,
                    self._set_ready,
                    initial=self.ready if resuming else False,
                    on_unhealthy=self._unhealthy("Readiness"),
                )
            )
        else:
            self.ready = True
            self._changed()
        if container.liveness is not None:
            liveness = container.liveness
            loops.append(
                probes.probe_loop(
                    liveness,
                    lambda timeout: actions.failure(liveness.action, timeout),
                    self.clock,
                    self._fail_liveness,
                    initial=True,
                    on_unhealthy=self._unhealthy("Liveness"),
                )
            )
        if loops:
            await asyncio.gather(*loops)
