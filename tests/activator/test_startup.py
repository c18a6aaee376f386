"""A (re)starting gateway: its data port opens only once the first routes are loaded, so a known
host never gets 404 from a replica that is still reading them; the worker parent keeps every
worker running."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from activator.app import build_app
from activator.config import GatewayConfig
from activator.server import GatewayServer
from activator.source import Apply, ClusterSnapshot
from tests.activator import objects as o
from tests.activator.conftest import StartBackend, hello_app
from tests.activator.polling import admin_ready, free_port, free_ports

HOST = "hello.default.example.com"


class GatedSource:
    """A routing source whose first snapshot arrives when the test says so."""

    def __init__(self, snapshot: ClusterSnapshot) -> None:
        self.snapshot = snapshot
        self.release = asyncio.Event()

    async def run(self, apply: Apply) -> None:
        await self.release.wait()
        apply(self.snapshot)
        await asyncio.Event().wait()


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


async def test_the_data_port_opens_once_the_first_routes_are_applied(start_backend: StartBackend) -> None:
    pod = await start_backend(hello_app())
    source = GatedSource(
        ClusterSnapshot.from_objects(
            [
                o.ingress("hello", [HOST], [o.path([o.split("hello-1", 100)])]),
                o.endpoints("hello-1", [pod.port]),
            ]
        )
    )
    port, admin = free_port(), free_port()
    server = GatewayServer(build_app(GatewayConfig(), source), port=port, admin_port=admin)
    starting = asyncio.create_task(server.start())
    try:
        async with aiohttp.ClientSession() as client:
            for _ in range(200):  # the admin port comes first: probes answer while routes load
                await asyncio.sleep(0.01)
                if not _refused(admin):
                    break
            async with client.get(f"http://127.0.0.1:{admin}/ready") as resp:
                assert (resp.status, await resp.text()) == (503, "not synced")
            assert _refused(port) and not starting.done()
            source.release.set()
            await asyncio.wait_for(starting, 5)
            async with client.get(f"http://127.0.0.1:{port}/", headers={"Host": HOST}) as resp:
                assert (resp.status, await resp.text()) == (200, "hello")
    finally:
        source.release.set()
        await asyncio.gather(starting, return_exceptions=True)
        await server.drain()


async def test_without_routes_by_the_sync_timeout_known_or_not_a_host_gets_503_not_404() -> None:
    source = GatedSource(ClusterSnapshot())
    server = GatewayServer(build_app(GatewayConfig(sync_timeout_s=0.2), source), port=0)
    await server.start()  # gave up waiting: serving, but saying why it cannot route yet
    try:
        async with (
            aiohttp.ClientSession() as client,
            client.get(f"http://127.0.0.1:{server.port}/", headers={"Host": HOST}) as resp,
        ):
            assert resp.status == 503 and resp.headers["Retry-After"] == "1"
            assert "routes not loaded yet" in await resp.text()
    finally:
        source.release.set()
        await server.drain()


def _children(pid: int) -> set[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    return {int(p) for p in out.stdout.split()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
async def test_a_dead_worker_is_started_again_and_sigterm_stops_them_all(
    start_backend: StartBackend, tmp_path: Path
) -> None:
    pod = await start_backend(hello_app())
    routes = o.routes_file(tmp_path / "routes.yaml", HOST, "hello-1", pod.port)
    port = free_port()
    admin = free_ports(2, avoid=(port,))  # worker i serves admin on admin + i
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "activator.cli",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--admin-port={admin}",
        f"--static-routes={routes}",
        "--workers=2",
        "--access-log=off",
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as client:
            await admin_ready(client, admin)
            await admin_ready(client, admin + 1)
            workers = _children(parent.pid)
            assert len(workers) == 2
            victim = max(workers)
            os.kill(victim, signal.SIGKILL)
            async with client.get(f"http://127.0.0.1:{port}/", headers={"Host": HOST}) as resp:
                assert resp.status == 200  # the other worker holds the port meanwhile
            async with asyncio.timeout(30):
                while len(now := _children(parent.pid)) < 2 or victim in now:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            await admin_ready(client, admin)
            await admin_ready(client, admin + 1)
            workers = _children(parent.pid)
        parent.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(parent.wait(), 30) == 0
        assert not any(_alive(pid) for pid in workers)
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()
