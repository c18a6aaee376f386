"""Probe checks (httpGet, tcpSocket, exec) and the loop that turns results into a verdict."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

import aiohttp

from localkube.kubelet import clock as clocks
from localkube.kubelet import process, spec

log = logging.getLogger(__name__)

USER_AGENT = "kube-probe/1.32"
AGGRESSIVE_PERIOD = 0.02  # while not ready, as Knative's queue-proxy polls (every 50 ms there)
AGGRESSIVE_EXEC_PERIOD = 0.1  # an exec probe costs a process spawn per check
AGGRESSIVE_TIMEOUT = 0.1


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
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # races with the probe's completion, and the probe loop would then never stop.
        try:
            async with asyncio.timeout(limit):
                return await self._run(action)
        except (TimeoutError, OSError, aiohttp.ClientError):
            return False

    async def _run(self, action: spec.Action) -> bool:
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

    async def _http_get(self, action: spec.HttpGet) -> bool:
        scheme = "https" if action.scheme == "HTTPS" else "http"
        path = action.path if action.path.startswith("/") else "/" + action.path
        url = f"{scheme}://{action.host or self._host}:{self._port(action.port)}{path}"
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
        headers.update(dict(action.headers))
        async with self._http.get(url, headers=headers, ssl=False, allow_redirects=False) as response:
            await response.read()
            return 200 <= response.status < 400

    async def _tcp(self, action: spec.TcpSocket) -> bool:
        _, writer = await asyncio.open_connection(action.host or self._host, self._port(action.port))
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def _exec(self, action: spec.Exec) -> bool:
        if not action.command:
            return False
        try:
            executable = process.resolve_executable(action.command[0], self._env)
        except process.StartError:
            return False
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
            return await proc.wait() == 0
        finally:
            process.kill_session(proc.pid)
            if proc.returncode is None:
                await proc.wait()


async def probe_loop(
    probe: spec.Probe,
    check: Callable[[float], Awaitable[bool]],
    clock: clocks.Clock,
    on_result: Callable[[bool], None],
    *,
    initial: bool | None,
    until_success: bool = False,
) -> None:
    """Run `check` every period and report each change of verdict.

    The verdict turns to success after successThreshold successes in a row, to failure after
    failureThreshold failures in a row; `initial` None means undecided, so the first verdict is
    always reported. With `until_success` (startup probes) the loop ends at the first success.
    """
    await clock.sleep(probe.initial_delay)
    verdict = initial
    successes = failures = 0
    is_exec = isinstance(probe.action, spec.Exec)
    while True:
        eager = probe.aggressive and not verdict
        timeout = min(probe.timeout, AGGRESSIVE_TIMEOUT) if eager and not is_exec else probe.timeout
        ok = await check(timeout)
        previous = verdict
        if ok:
            successes, failures = successes + 1, 0
            if successes >= probe.success_threshold:
                verdict = True
        else:
            successes, failures = 0, failures + 1
            if failures >= probe.failure_threshold:
                verdict = False
        if verdict is not None and verdict != previous:
            on_result(verdict)
        if until_success and verdict:
            return
        if eager and not verdict:
            await asyncio.sleep(AGGRESSIVE_EXEC_PERIOD if is_exec else AGGRESSIVE_PERIOD)
        else:
            await clock.sleep(probe.period)  # once ready: the declared period (unset: 10 s)
