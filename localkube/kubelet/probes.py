"""Probe checks (httpGet, tcpSocket, exec) and the loop that turns results into a verdict."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import select
import socket
from collections.abc import Awaitable, Callable, Mapping

import aiohttp

from localkube.kubelet import clock as clocks
from localkube.kubelet import process, spec

log = logging.getLogger(__name__)

USER_AGENT = "kube-probe/1.32"
AGGRESSIVE_PERIOD = 0.02  # while not ready, as Knative's queue-proxy polls (every 50 ms there)
AGGRESSIVE_EXEC_PERIOD = 0.1  # an exec probe costs a process spawn per check
AGGRESSIVE_TIMEOUT = 0.1


def connect_now(host: str, port: int) -> bool | None:
    """Try a TCP connection without waiting: True if accepted, False if refused, None if unknown.

    On loopback the kernel completes (or refuses) the handshake inside connect(), so a
    non-blocking connect knows the answer at once, for about a tenth of the CPU of an asyncio
    connection attempt. Eager readiness polling of many starting pods stays cheap that way.
    """
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        return None
    try:
        sock.setblocking(False)
        code = sock.connect_ex((host, port))
        if code == 0:
            return True
        if code != errno.EINPROGRESS:
            return False if code == errno.ECONNREFUSED else None
        _, writable, _ = select.select([], [sock], [], 0)
        if not writable:
            return None
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error == 0:
            return True
        return False if error == errno.ECONNREFUSED else None
    except OSError:
        return None
    finally:
        sock.close()


class ActionRunner:
    """Runs a probe or hook action against one container."""

    def __init__(
        self,
        container: spec.Container,
        host: str,
        env: Mapping[str, str],
        http: aiohttp.ClientSession,
    ) -> None:
        self._container = container
        self._host = host
        self._env = env
        self._http = http

    async def check(self, action: spec.Action, limit: float) -> bool:
        """True if the action succeeds within `limit` real seconds."""
        return await self.failure(action, limit) is None

    async def failure(self, action: spec.Action, limit: float) -> str | None:
        """Why the action failed (worded as kubelet words it), or None if it succeeded in time."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # races with the probe's completion, and the probe loop would then never stop.
        try:
            async with asyncio.timeout(limit):
                return await self._run(action)
        except TimeoutError:
            return f"{self._target(action)}: context deadline exceeded"
        except (OSError, aiohttp.ClientError) as error:
            errno = error.errno if isinstance(error, OSError) else None
            reason = os.strerror(errno) if errno else str(error)
            return f"{self._target(action)}: connect: {reason.lower()}"

    def _target(self, action: spec.Action) -> str:
        if isinstance(action, spec.Exec):
            return f"command {list(action.command)!r}"
        port = self._container.resolve_port(action.port)
        return f"dial tcp {action.host or self._host}:{port}"

    async def _run(self, action: spec.Action) -> str | None:
        if isinstance(action, spec.HttpGet):
            return await self._http_get(action)
        if isinstance(action, spec.TcpSocket):
            return await self._tcp(action)
        return await self._exec(action)

    def _port(self, port: int | str) -> int:
        resolved = self._container.resolve_port(port)
        if resolved is None:
            raise OSError(f"port {port!r} is not a port of container {self._container.name}")
        return resolved

    async def _http_get(self, action: spec.HttpGet) -> str | None:
        if connect_now(action.host or self._host, self._port(action.port)) is False:
            return f"{self._target(action)}: connect: connection refused"  # no request to make
        scheme = "https" if action.scheme == "HTTPS" else "http"
        path = action.path if action.path.startswith("/") else "/" + action.path
        url = f"{scheme}://{action.host or self._host}:{self._port(action.port)}{path}"
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
        headers.update(dict(action.headers))
        async with self._http.get(url, headers=headers, ssl=False, allow_redirects=False) as response:
            await response.read()
            if 200 <= response.status < 400:
                return None
            return f"HTTP probe failed with statuscode: {response.status}"

    async def _tcp(self, action: spec.TcpSocket) -> str | None:
        host, port = action.host or self._host, self._port(action.port)
        answer = connect_now(host, port)
        if answer is not None:
            return None if answer else f"{self._target(action)}: connect: connection refused"
        _, writer = await asyncio.open_connection(host, port)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return None

    async def _exec(self, action: spec.Exec) -> str | None:
        if not action.command:
            return "exec probe without a command"
        try:
            executable = process.resolve_executable(action.command[0], self._env)
        except process.StartError as error:
            return str(error)
        proc = await asyncio.create_subprocess_exec(
            executable,
            *action.command[1:],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env=dict(self._env),
            cwd=self._container.working_dir or None,
            start_new_session=True,
        )
        try:
            code = await proc.wait()
            return None if code == 0 else f"command {list(action.command)!r} exited with {code}"
        finally:
            process.kill_session(proc.pid)
            if proc.returncode is None:
                await proc.wait()


async def probe_loop(
    probe: spec.Probe,
    check: Callable[[float], Awaitable[str | None]],
    clock: clocks.Clock,
    on_result: Callable[[bool], None],
    *,
    initial: bool | None,
    until_success: bool = False,
    on_unhealthy: Callable[[str], None] | None = None,
) -> None:
    """Run `check` (None: success, else why it failed) every period; report verdict changes.

    The verdict turns to success after successThreshold successes in a row, to failure after
    failureThreshold failures in a row; `initial` None means undecided, so the first verdict is
    always reported. With `until_success` (startup probes) the loop ends at the first success.
    `on_unhealthy` hears once per failing streak that lasted failureThreshold periods: the time a
    kubelet polling at the declared period would have taken to see it (eager polling must not
    turn every app's start-up into warnings).
    """
    await clock.sleep(probe.initial_delay)
    verdict = initial
    successes = failures = 0
    streak_since = 0.0
    reported = False
    is_exec = isinstance(probe.action, spec.Exec)
    while True:
        eager = probe.aggressive and not verdict
        timeout = min(probe.timeout, AGGRESSIVE_TIMEOUT) if eager and not is_exec else probe.timeout
        failure = await check(timeout)
        previous = verdict
        if failure is None:
            successes, failures, reported = successes + 1, 0, False
            if successes >= probe.success_threshold:
                verdict = True
        else:
            if failures == 0:
                streak_since = clock.monotonic()
            successes, failures = 0, failures + 1
            if failures >= probe.failure_threshold:
                verdict = False
                periods = max(1, probe.failure_threshold - 1) if eager else probe.failure_threshold - 1
                lasted = clock.monotonic() - streak_since >= probe.period * periods
                if on_unhealthy is not None and not reported and (lasted or not eager):
                    reported = True
                    on_unhealthy(failure)
        if verdict is not None and verdict != previous:
            on_result(verdict)
        if until_success and verdict:
            return
        if eager and not verdict:
            await asyncio.sleep(AGGRESSIVE_EXEC_PERIOD if is_exec else AGGRESSIVE_PERIOD)
        else:
            await clock.sleep(probe.period)  # once ready: the declared period (unset: 10 s)
