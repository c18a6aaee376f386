"""Container processes: each runs in its own session (so its process group is its container),
writes stdout and stderr to a log file, and is stopped by signalling the whole group.

Every started group is recorded in the state dir, so a kubelet that starts after a crash can
find what its previous run left behind: it adopts the groups of pods it still runs (their
processes keep serving) and kills the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from localkube.kubelet import clock as clocks

log = logging.getLogger(__name__)


class StateDirBusy(RuntimeError):
    """Another kubelet uses this state dir: each would kill the other's processes as orphans."""


class StateDirLock:
    """An exclusive lock on a state dir for as long as the kubelet runs."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            os.close(self._fd)
            raise StateDirBusy(
                f"another kubelet already uses {directory}; choose another --state-dir"
            ) from error

    def release(self) -> None:
        os.close(self._fd)  # closing the descriptor drops the lock


class StartError(Exception):
    """The process could not be started; the message is what kubelet puts in status."""


def proc_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (None if it does not exist).

    A pid with a different start time is a different process: pids are reused.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return stat[stat.rindex(")") + 2]


def is_alive(pid: int) -> bool:
    """True for a running (not zombie) process."""
    state = proc_state(pid)
    return state is not None and state not in ("Z", "X")


def session_members(sid: int) -> list[int]:
    """Live processes in session `sid`: a container's process and everything it started."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def resolve_executable(command: str, env: Mapping[str, str]) -> str:
    """The path to run, or StartError with the message a container runtime gives."""
    if "/" in command:
        path = Path(command)
        if not path.exists():
            raise StartError(f'exec: "{command}": stat {command}: no such file or directory')
        if not os.access(path, os.X_OK) or path.is_dir():
            raise StartError(f'exec: "{command}": permission denied')
        return command
    found = shutil.which(command, path=env.get("PATH", os.defpath))
    if found is None:
        raise StartError(f'exec: "{command}": executable file not found in $PATH')
    return found


@dataclass(frozen=True)
class GroupRecord:
    pid: int
    start_ticks: int
    owner: str


class GroupRecords:
    """Files under `<state-dir>/pids/`, one per live process group the kubelet started."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)

    def add(self, pid: int, owner: str) -> None:
        ticks = proc_start_ticks(pid) or 0
        body = {"pid": pid, "startTicks": ticks, "owner": owner}
        (self._dir / f"{pid}.json").write_text(json.dumps(body))

    def remove(self, pid: int) -> None:
        (self._dir / f"{pid}.json").unlink(missing_ok=True)

    def all(self) -> list[GroupRecord]:
        records = []
        for path in sorted(self._dir.glob("*.json")):
            try:
                body = json.loads(path.read_text())
                records.append(GroupRecord(int(body["pid"]), int(body["startTicks"]), str(body["owner"])))
            except (OSError, ValueError, KeyError):
                path.unlink(missing_ok=True)
        return records

    def survivors(self) -> dict[str, GroupRecord]:
        """{owner: record} of the groups whose leader still runs (the same process: its start
        time matches), which a kubelet may adopt rather than kill."""
        return {
            record.owner: record
            for record in self.all()
            if record.start_ticks
            and proc_start_ticks(record.pid) == record.start_ticks
            and is_alive(record.pid)
        }

    async def kill_orphans(self, grace: float = 2.0, keep: frozenset[int] = frozenset()) -> list[int]:
        """SIGTERM, then SIGKILL, every group a previous run left except those led by a pid in
        `keep` (the ones that may be adopted); returns the pids it found."""
        return await self.kill([record for record in self.all() if record.pid not in keep], grace)

    async def kill(self, records: Sequence[GroupRecord], grace: float = 2.0) -> list[int]:
        """SIGTERM, then SIGKILL, the groups of `records` and forget them; returns the pids found."""
        found: list[int] = []
        for record in records:
            leader_is_ours = proc_start_ticks(record.pid) == record.start_ticks
            if leader_is_ours or session_members(record.pid):
                found.append(record.pid)
                signal_group(record.pid, signal.SIGTERM)
        deadline = asyncio.get_running_loop().time() + grace
        while found and asyncio.get_running_loop().time() < deadline:
            if not any(session_members(pid) for pid in found):
                break
            await asyncio.sleep(0.02)
        for pid in found:
            signal_group(pid, signal.SIGKILL)
        for record in records:
            self.remove(record.pid)
        if found:
            log.info("killed %d orphaned container process group(s): %s", len(found), found)
        return found


class ProcessHandle(Protocol):
    """What the runner needs of a container's main process: a child it spawned, or one adopted."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...


ADOPTED_POLL_SECONDS = 0.1
# An adopted process is another process's child once its kubelet died: only that parent learns
# its exit status, so the runner cannot know it.
UNKNOWN_EXIT = 255


class AdoptedProcess:
    """A container process started by a previous run of the kubelet, found alive at start.

    Not our child, so it cannot be waited for: `wait()` watches /proc (the pid with the same
    start time) and returns UNKNOWN_EXIT once it is gone.
    """

    def __init__(self, pid: int, start_ticks: int) -> None:
        self._pid = pid
        self._start_ticks = start_ticks
        self._returncode: int | None = None

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def returncode(self) -> int | None:
        if self._returncode is None and not self._running():
            self._returncode = UNKNOWN_EXIT
        return self._returncode

    def _running(self) -> bool:
        return proc_start_ticks(self._pid) == self._start_ticks and is_alive(self._pid)

    async def wait(self) -> int:
        while True:  # polled: no event tells a non-parent that a process ended (pidfds aside)
            code = self.returncode
            if code is not None:
                return code
            await asyncio.sleep(ADOPTED_POLL_SECONDS)


def _open_log(log_path: Path, cwd: str) -> BinaryIO:
    if cwd and not Path(cwd).is_dir():
        raise StartError(f'chdir to cwd ("{cwd}") set in config.json failed: no such file or directory')
    log_path.parent.mkdir(parents=True, exist_ok=True)
    return open(log_path, "ab", buffering=0)


async def spawn(
    argv: Sequence[str], env: Mapping[str, str], cwd: str, log_path: Path
) -> asyncio.subprocess.Process:
    """Start argv in a new session with output appended to log_path."""
    if not argv:
        raise StartError("no command")
    executable = resolve_executable(argv[0], env)
    with _open_log(log_path, cwd) as sink:
        try:
            return await asyncio.create_subprocess_exec(
                executable,
                *argv[1:],
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=asyncio.subprocess.STDOUT,
                env=dict(env),
                cwd=cwd or None,
                start_new_session=True,
            )
        except OSError as error:
            raise StartError(f'exec: "{argv[0]}": {error.strerror or error}') from error


async def wait_or_timeout(process: ProcessHandle, seconds: float, clock: clocks.Clock) -> bool:
    """Wait for the process to exit for at most `seconds` of clock time; True if it exited."""
    if process.returncode is not None:
        return True
    waiter = asyncio.ensure_future(process.wait())
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiter, timer):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    return process.returncode is not None


async def terminate(process: ProcessHandle, grace: float, clock: clocks.Clock) -> int:
    """SIGTERM the group, wait up to `grace`, SIGKILL the group; returns the exit code.

    The group is SIGKILLed even after its leader exits: a container ends with its main process,
    so no child it started may outlive it.
    """
    if process.returncode is None:
        signal_group(process.pid, signal.SIGTERM)
        if not await wait_or_timeout(process, grace, clock):
            signal_group(process.pid, signal.SIGKILL)
    code = await process.wait()
    kill_session(process.pid)
    return code


def kill_session(sid: int) -> None:
    """SIGKILL whatever is left of a container: its group, and any member that left the group."""
    signal_group(sid, signal.SIGKILL)
    for pid in session_members(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def exit_code(returncode: int) -> int:
    """asyncio reports death by signal N as -N; Kubernetes reports 128 + N."""
    return 128 - returncode if returncode < 0 else returncode
