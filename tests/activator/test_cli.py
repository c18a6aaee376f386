"""`kwake gateway --static-routes`: a real process, routes from a file, SIGTERM drains and exits."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.activator import objects as o
from tests.activator.conftest import StartBackend, hello_app
from tests.activator.polling import admin_ready, free_port

HOST = "hello.default.example.com"


async def test_gateway_process_serves_static_routes_and_drains_on_sigterm(
    start_backend: StartBackend, tmp_path: Path
) -> None:
    pod = await start_backend(hello_app())
    routes = o.routes_file(tmp_path / "routes.yaml", HOST, "hello-00001", pod.port)
    port, admin = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "activator.cli",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--admin-port={admin}",
        f"--static-routes={routes}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as session:
            await admin_ready(session, admin)
            async with session.get(f"http://127.0.0.1:{port}/", headers={"Host": HOST}) as resp:
                assert (resp.status, await resp.text()) == (200, "hello")
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30.0)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    line = json.loads(stdout.decode().splitlines()[0])
    assert line["status"] == 200 and line["host"] == HOST and line["revision"] == "hello-00001"
    assert b"draining" in stderr


async def test_without_routes_file_or_cluster_it_says_what_to_pass(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    env["HOME"] = str(tmp_path)  # no ~/.kube/config there
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "activator.cli", stderr=asyncio.subprocess.PIPE, env=env
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30.0)
    assert process.returncode == 2
    assert b"--static-routes" in stderr and b"Traceback" not in stderr
