"""kwake's own processes under a `kwake up`, found by pid: to kill one, and to watch memory.

`kwake up` runs each component (localkube, operator, autoscaler, gateway) as a direct child
`python -m serving.cli.main NAME ...`; the gateway with `--workers N` runs N `activator.cli`
children of its own. Everything here reads /proc, so a component restarted by kwake up's
supervisor is found again under its new pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from loadtests.faults import stack
from loadtests.kwake import KwakeUp

COMPONENTS = ("localkube", "operator", "autoscaler", "gateway")


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def children(pid: int) -> list[int]:
    """Live (not zombie) direct children of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if (
            entry.name.isdigit()
            and _ppid(int(entry.name)) == pid
            and stack.proc_state(int(entry.name)) not in ("Z", None)
        ):
            found.append(int(entry.name))
    return sorted(found)


def component_pids(up: KwakeUp) -> dict[str, int]:
    """{component name: pid} of the components running right now (one may be restarting)."""
    found: dict[str, int] = {}
    for pid in children(up.process.pid):
        argv = _cmdline(pid)
        if "serving.cli.main" in argv[:-1]:
            name = argv[argv.index("serving.cli.main") + 1]
            if name in COMPONENTS:
                found[name] = pid
    return found


def component_pid(up: KwakeUp, name: str) -> int | None:
    return component_pids(up).get(name)


def flag_value(pid: int, flag: str) -> str | None:
    """The value of `--flag VALUE` or `--flag=VALUE` on a process's command line."""
    argv = _cmdline(pid)
    for i, part in enumerate(argv):
        if part == flag and i + 1 < len(argv):
            return argv[i + 1]
        if part.startswith(flag + "="):
            return part.split("=", 1)[1]
    return None


def gateway_workers(gateway: int) -> dict[int, int]:
    """{worker index: pid} of a gateway started with `--workers N` (empty with one process)."""
    found = {}
    for pid in children(gateway):
        index = flag_value(pid, "--worker-index")
        if index is not None:
            found[int(index)] = pid
    return found


def kill(pid: int, sig: signal.Signals = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


async def wait_restarted(up: KwakeUp, name: str, old: int, within: float) -> tuple[int, float]:
    """The pid of `name` once kwake up's supervisor started a new one, and when (perf_counter)."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        pid = component_pid(up, name)
        if pid is not None and pid != old:
            return pid, time.perf_counter()
        await asyncio.sleep(0.02)
    raise TimeoutError(f"{name} not restarted within {within:.0f}s (old pid {old})")


async def wait_port(port: int, within: float) -> float:
    """perf_counter time at which 127.0.0.1:port first accepts a connection."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return time.perf_counter()
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} within {within:.0f}s")


@dataclass
class MemoryWatch:
    """Samples VmHWM (resident high-water mark) of every component, across restarts: the figure
    per component is the highest of any process that ran under its name, gateway workers
    included. `async with` starts and stops the sampling task."""

    up: KwakeUp
    every: float = 0.25
    hwm_kib: dict[str, int] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        for name, pid in component_pids(self.up).items():
            pids = [pid, *gateway_workers(pid).values()] if name == "gateway" else [pid]
            for one in pids:
                hwm = stack.memory_kib(one).get("VmHWM")
                if hwm is not None:
                    self.hwm_kib[name] = max(self.hwm_kib.get(name, 0), hwm)

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.every)

    async def __aenter__(self) -> MemoryWatch:
        self._task = asyncio.create_task(self._run(), name="memory-watch")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sample()
