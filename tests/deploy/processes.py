"""kwake's components as the user runs them (`python -m serving.cli.main NAME ...`), for tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from tests.conftest import Kubectl
from tests.deploy.manifests import REPO


@contextlib.asynccontextmanager
async def component(
    name: str,
    argv: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    wrapper: Sequence[str] = (),
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`[WRAPPER...] kwake NAME ARGV...`, output to `log`, stopped with SIGTERM (killed if it lingers).

    `env` defaults to this process's environment without KUBECONFIG.
    """
    environment = dict(env) if env is not None else {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *wrapper,
            *(sys.executable, "-m", "serving.cli.main", name, *argv),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
        )
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def log_tails(logs: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log")))


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float, what: str, logs: Path) -> None:
    """Poll `check` every 0.1 s for up to `seconds`; on time-out, fail with the logs' tails."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{log_tails(logs)}")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def localkube(state: Path, logs: Path) -> AsyncIterator[Kubectl]:
    """`kwake localkube` with its controllers and kubelet, so a Revision's pod runs and gets Ready."""
    kubeconfig = state / "kubeconfig"
    async with component("localkube", ["--state-dir", str(state)], logs / "localkube.log"):

        async def written() -> bool:
            return kubeconfig.exists()

        await eventually(written, 30, "localkube's kubeconfig", logs)
        yield Kubectl(kubeconfig, state.parent / "kubectl-cache")
