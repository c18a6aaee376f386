"""The issue's end-to-end story with the real kubectl: a Deployment of a tiny HTTP app and a
Service with a named targetPort, run by localkube's controllers and this kubelet.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from localkube.client import ENDPOINTS, PODS, ApiClient, load_connection
from localkube.controllers import run_controllers
from localkube.kubelet import process
from localkube.server.runner import ThreadedApiServer
from tests.conftest import Kubectl
from tests.localkube.test_kubelet_apiserver import start_kubelet

APP = (
    "import os, http.server\n"
    "print('serving on', os.environ['PORT'], flush=True)\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(os.environ['HOSTNAME'].encode())\n"
    "    def log_message(self, *a): pass\n"
    "http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n"
)


def manifests() -> str:
    container = {
        "name": "app",
        "image": "python:3.11",
        "command": [sys.executable, "-c", APP],
        "ports": [{"name": "http", "containerPort": 8080}],
        # As kwake's revision reconciler writes it: kube's minimum period, polled eagerly here.
        "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 5},
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }
    return yaml.safe_dump_all([deployment, service])


class Cluster:
    def __init__(self, client: ApiClient, kubectl: Kubectl) -> None:
        self.client = client
        self.kubectl = kubectl
        self.pids: set[int] = set()

    async def pods(self) -> list[dict[str, Any]]:
        items = (await self.client.list(PODS, "default", label_selector="app=web"))["items"]
        for pod in items:
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                container_id = str(status.get("containerID") or "")
                if container_id.startswith("process://"):
                    self.pids.add(int(container_id.removeprefix("process://")))
        return list(items)

    async def addresses(self) -> list[tuple[str, int]]:
        endpoints = await self.client.get_or_none(ENDPOINTS, "web", "default")
        found: list[tuple[str, int]] = []
        for subset in (endpoints or {}).get("subsets") or []:
            for address in subset.get("addresses") or []:
                found.extend((address["ip"], port["port"]) for port in subset.get("ports") or [])
        return sorted(found)

    async def until(self, check: Callable[[], Any], seconds: float = 30) -> Any:
        async with asyncio.timeout(seconds):
            while True:
                await self.pods()
                result = await check()
                if result:
                    return result
                await asyncio.sleep(0.05)

    async def kubectl_async(self, *args: str, stdin: str | None = None) -> str:
        result = await asyncio.to_thread(self.kubectl.run, *args, input=stdin)
        return result.stdout


@pytest.fixture
async def cluster(apiserver: ThreadedApiServer, kubectl: Kubectl, tmp_path: Path) -> AsyncIterator[Cluster]:
    async with ApiClient(load_connection(apiserver.kubeconfig, environ={})) as client:
        _, stop, kubelet_task = await start_kubelet(client, tmp_path / "kubelet")
        controllers = asyncio.create_task(run_controllers(client, stop))
        state = Cluster(client, kubectl)
        try:
            yield state
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(kubelet_task, controllers), 30)
            assert [pid for pid in state.pids if process.session_members(pid)] == []


async def http_get(ip: str, port: int) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"http://{ip}:{port}/") as response:
        return await response.text()


@pytest.mark.slow
async def test_deployment_service_scale_restart_logs_delete(cluster: Cluster) -> None:
    await cluster.kubectl_async("apply", "-f", "-", stdin=manifests())

    async def three_ready() -> list[tuple[str, int]] | None:
        addresses = await cluster.addresses()
        return addresses if len(addresses) == 3 else None

    addresses = await cluster.until(three_ready)
    names = {await http_get(ip, port) for ip, port in addresses}
    assert names == {pod["metadata"]["name"] for pod in await cluster.pods()}
    assert len({port for _, port in addresses}) == 3  # each pod its own port, named targetPort resolved

    # Logs through the API server.
    pod_name = sorted(names)[0]
    logs = await cluster.kubectl_async("logs", pod_name)
    assert logs.startswith("serving on ")

    # Kill one pod's process: the kubelet restarts it.
    victim = next(p for p in await cluster.pods() if p["metadata"]["name"] == pod_name)
    pid = int(victim["status"]["containerStatuses"][0]["containerID"].removeprefix("process://"))
    process.signal_group(pid, 9)

    async def restarted() -> bool:
        pod = next(p for p in await cluster.pods() if p["metadata"]["name"] == pod_name)
        status = pod["status"]["containerStatuses"][0]
        return bool(status["restartCount"] == 1 and status["ready"])

    await cluster.until(restarted)
    table = await cluster.kubectl_async("get", "pod", pod_name)
    assert " 1 " in table.splitlines()[1] or "1 (" in table.splitlines()[1]

    # Scale to zero and back.
    await cluster.kubectl_async("scale", "deployment/web", "--replicas=0")

    async def no_pods() -> bool:
        return not await cluster.pods() and not await cluster.addresses()

    await cluster.until(no_pods)
    assert [p for p in cluster.pids if process.session_members(p)] == []
    await cluster.kubectl_async("scale", "deployment/web", "--replicas=1")

    async def one_ready() -> bool:
        return len(await cluster.addresses()) == 1

    await cluster.until(one_ready)

    # Deleting the Deployment stops every process.
    await cluster.kubectl_async("delete", "deployment/web")
    await cluster.until(no_pods)
    assert [p for p in cluster.pids if process.session_members(p)] == []


@pytest.mark.slow
async def test_container_without_command_shows_its_reason_in_kubectl(cluster: Cluster) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "nginx", "namespace": "default"},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]},
    }
    await cluster.kubectl_async("apply", "-f", "-", stdin=json.dumps(pod))

    async def reported() -> str:
        out = await cluster.kubectl_async("get", "pod", "nginx")
        return out if "CreateContainerError" in out else ""

    assert "0/1" in await cluster.until(reported)
    described = await cluster.kubectl_async(
        "get", "pod", "nginx", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.message}"
    )
    assert "has no command" in described
    await cluster.kubectl_async("delete", "pod", "nginx")
