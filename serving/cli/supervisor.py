"""Runs kwake's components as child processes: logs to files, restarts on crashes, stops in order.

Each component runs in its own session (process group), so stopping it reaches every process it
started; a component that ignores SIGTERM for `stop_seconds` is killed.

With a records dir, each running component's pid (and start time, pids being reused) is kept
there, so a kwake up started after a crash of the previous one can kill what it left running
(`kill_leftovers`) instead of finding its ports taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("kwake.up")

MAX_BACKOFF_SECONDS = 30.0
HEALTHY_RUN_SECONDS = 60.0


def next_backoff(delay: float) -> float:
    """The wait before the next restart if the component crashes again soon: 0, 1, 2, 4 ... 30."""
    return min(max(1.0, delay * 2), MAX_BACKOFF_SECONDS)


@dataclass
class Component:
    name: str
    argv: Sequence[str]
    log_path: Path
    stop_seconds: float = 10.0
    restarts: int = 0
    process: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    _watch: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def kwake_argv(*args: str) -> list[str]:
    """The argv that runs `kwake ARGS` with this interpreter (no dependence on PATH)."""
    return [sys.executable, "-m", "serving.cli.main", *args]


def _start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot), None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (a killed one's sockets are closed either way)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def _kill_recorded(records: Path) -> list[tuple[str, int]]:
    """SIGKILL every recorded component group still led by the same process; forget the records."""
    killed: list[tuple[str, int]] = []
    for path in sorted(records.glob("*.json")) if records.is_dir() else []:
        try:
            body = json.loads(path.read_text())
            pid, ticks = int(body["pid"]), int(body["startTicks"])
        except (OSError, ValueError, KeyError):
            pid, ticks = 0, -1
        if pid and _start_ticks(pid) == ticks:
            _signal_group(pid, signal.SIGKILL)
            killed.append((path.stem, pid))
        path.unlink(missing_ok=True)
    return killed


async def kill_leftovers(records: Path, within: float = 5.0) -> list[str]:
    """SIGKILL the process groups of components a crashed kwake up left running ("name (pid)").

    SIGKILL, not SIGTERM: a localkube stopped gracefully would stop its pods, while one killed
    leaves them for the next kubelet to adopt.
    """
    killed = _kill_recorded(records)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:  # gone (reaped by whoever adopted them): ports free
        if not any(_running(pid) for _, pid in killed):
            break
        await asyncio.sleep(0.05)
    return [f"{name} ({pid})" for name, pid in killed]


class Supervisor:
    def __init__(self, report: Callable[[str], None], records: Path | None = None) -> None:
        self._components: list[Component] = []
        self._stopping = False
        self._report = report
        self._records = records

    async def start(self, component: Component) -> None:
        self._components.append(component)
        await self._spawn(component)
        component._watch = asyncio.create_task(
            self._watch_over(component), name=f"supervise-{component.name}"
        )

    async def _spawn(self, component: Component) -> None:
        component.log_path.parent.mkdir(parents=True, exist_ok=True)
        with component.log_path.open("ab") as log_file:
            component.process = await asyncio.create_subprocess_exec(
                *component.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        component.started_at = time.monotonic()
        self._record(component)

    def _record(self, component: Component) -> None:
        if self._records is None or component.process is None:
            return
        self._records.mkdir(parents=True, exist_ok=True)
        pid = component.process.pid
        body = {"pid": pid, "startTicks": _start_ticks(pid) or 0}
        (self._records / f"{component.name}.json").write_text(json.dumps(body))

    async def _watch_over(self, component: Component) -> None:
        # A crash after a healthy run is restarted at once: every second the gateway is down
        # refuses connections. Crashes in a row wait 1, 2, 4 ... up to MAX_BACKOFF_SECONDS.
        delay = 0.0
        while True:
            assert component.process is not None
            code = await component.process.wait()
            if self._stopping:
                return
            if time.monotonic() - component.started_at > HEALTHY_RUN_SECONDS:
                delay = 0.0
            component.restarts += 1
            self._report(
                f"{component.name} exited with code {code}; restarting in {delay:.0f}s "
                f"(restart {component.restarts}); last lines of {component.log_path}:\n{component.log_tail()}"
            )
            if delay:
                await asyncio.sleep(delay)
            if self._stopping:
                return
            await self._spawn(component)
            delay = next_backoff(delay)

    def running(self, name: str) -> Component | None:
        for component in self._components:
            if component.name == name:
                return component
        return None

    async def stop_all(self) -> None:
        """Stop in the reverse order of start: the last started (the gateway) drains first."""
        self._stopping = True
        for component in reversed(self._components):
            await self._stop(component)
            if self._records is not None:
                (self._records / f"{component.name}.json").unlink(missing_ok=True)
            if component._watch is not None:
                component._watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await component._watch

    async def _stop(self, component: Component) -> None:
        process = component.process
        if process is None or process.returncode is not None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), component.stop_seconds)
        except TimeoutError:
            log.warning("%s did not stop within %ss; killing it", component.name, component.stop_seconds)
            _signal_group(process.pid, signal.SIGKILL)
            await process.wait()
        # Anything the component left in its group goes too.
        _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
