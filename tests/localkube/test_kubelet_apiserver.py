"""The kubelet against localkube's real API server: pods created through the API run as local
processes with their own ports, report status, restart, log, and go away when deleted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import ssl
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from localkube.client import EVENTS, LEASES, MUTATING_WEBHOOKS, NODES, PODS, ApiClient, load_connection
from localkube.kubelet import admission, clock, process
from localkube.kubelet.kubelet import Kubelet, KubeletConfig
from localkube.kubelet.process import StateDirBusy
from localkube.kubelet.registration import NodeTaken
from localkube.server.runner import ThreadedApiServer
from serving.api.types import Revision
from serving.reconciler.revision.resources.deployment import make_deployment
from tests.serving.fixtures import CFG, revision_body

Obj = dict[str, Any]

APP = """
import os, signal, sys, http.server
print("starting on", os.environ["PORT"], flush=True)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (os.environ.get("POD_NAME", "") + " " + os.environ["PORT"]).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


def app_pod(name: str, **spec: Any) -> Obj:
    container = {
        "name": "app",
        "image": "python:3.11",
        "command": [sys.executable, "-c", APP],
        "ports": [{"name": "http1", "containerPort": 8080}],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 0},
    }
    return {"metadata": {"name": name, "labels": {"app": "web"}}, "spec": {"containers": [container], **spec}}


@dataclass
class Running:
    client: ApiClient
    kubelet: Kubelet | None
    state_dir: Path
    pids: set[int]

    async def until(self, name: str, predicate: Callable[[Obj], bool], seconds: float = 15) -> Obj:
        """Poll the pod until predicate holds; remembers every process it saw."""
        async with asyncio.timeout(seconds):
            while True:
                pod = await self.client.get(PODS, name, "default")
                self.pids.update(pids_of(pod))
                if predicate(pod):
                    return pod
                await asyncio.sleep(0.02)

    async def gone(self, name: str, seconds: float = 15) -> None:
        async with asyncio.timeout(seconds):
            while await self.client.get_or_none(PODS, name, "default") is not None:  # noqa: ASYNC110
                await asyncio.sleep(0.02)


async def event_reasons(client: ApiClient, name: str) -> list[str]:
    """Each event's reason, as many times as it happened (repeats may be aggregated in `count`)."""
    events = await client.list(EVENTS, "default", field_selector=f"involvedObject.name={name}")
    return [str(event["reason"]) for event in events["items"] for _ in range(int(event.get("count") or 1))]


def pids_of(pod: Obj) -> set[int]:
    found = set()
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        container_id = str(status.get("containerID") or "")
        if container_id.startswith("process://"):
            found.add(int(container_id.removeprefix("process://")))
    return found


def ready(pod: Obj) -> bool:
    conditions = {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or []}
    return conditions.get("Ready") == "True"


def container_status(pod: Obj) -> Obj:
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    return dict(statuses[0])


async def start_kubelet(
    client: ApiClient, state_dir: Path
) -> tuple[Kubelet, asyncio.Event, asyncio.Task[None]]:
    kubelet = Kubelet(client, KubeletConfig(state_dir=state_dir, clock=clock.ScaledClock(20)))
    stop = asyncio.Event()
    task = asyncio.create_task(kubelet.run(stop))
    async with asyncio.timeout(10):
        while True:
            webhook = await client.get_or_none(MUTATING_WEBHOOKS, "localkube-kubelet")
            if webhook is not None and kubelet.port:
                break
            assert not task.done(), task
            await asyncio.sleep(0.02)
    return kubelet, stop, task


@pytest.fixture
async def running(apiserver: ThreadedApiServer, tmp_path: Path) -> AsyncIterator[Running]:
    async with ApiClient(load_connection(apiserver.kubeconfig, environ={})) as client:
        kubelet, stop, task = await start_kubelet(client, tmp_path / "kubelet")
        state = Running(client, kubelet, tmp_path / "kubelet", set())
        try:
            yield state
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
            leftover = [pid for pid in state.pids if process.session_members(pid)]
            assert leftover == [], "pod processes outlived the kubelet"


async def get_text(port: int) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/") as response:
        return await response.text()


async def test_pods_get_their_own_port_and_become_ready(running: Running) -> None:
    client = running.client
    for name in ("web-a", "web-b"):
        await client.create(PODS, app_pod(name), "default")
    pods = [await running.until(name, ready) for name in ("web-a", "web-b")]
    ports = []
    for pod in pods:
        container = pod["spec"]["containers"][0]
        port = container["ports"][0]["containerPort"]
        assert container["ports"][0]["name"] == "http1"  # a named targetPort resolves per pod
        assert {"name": "PORT", "value": str(port)} in container["env"]
        assert container["readinessProbe"]["tcpSocket"]["port"] == port
        mapping = json.loads(pod["metadata"]["annotations"][admission.PORTS_ANNOTATION])
        assert mapping == {"8080": port, "PORT": port}
        assert pod["spec"]["nodeName"] == "localkube"
        status = pod["status"]
        assert status["phase"] == "Running"
        assert status["podIP"] == "127.0.0.1" and status["hostIP"] == "127.0.0.1"
        assert status["startTime"]
        assert container_status(pod)["ready"] is True
        assert "running" in container_status(pod)["state"]
        ports.append(port)
    assert ports[0] != ports[1]
    assert await get_text(ports[0]) == f"web-a {ports[0]}"
    assert await get_text(ports[1]) == f"web-b {ports[1]}"
    lease = await client.get(LEASES, "localkube", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "localkube" and lease["spec"]["renewTime"]
    node = await client.get(NODES, "localkube")
    assert running.kubelet is not None
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == running.kubelet.port
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"


async def test_killed_process_restarts_and_deleted_pod_is_gone(running: Running) -> None:
    client = running.client
    await client.create(PODS, app_pod("crashy"), "default")
    pod = await running.until("crashy", ready)
    (first_pid,) = pids_of(pod)
    process.signal_group(first_pid, 9)
    pod = await running.until("crashy", lambda p: container_status(p).get("restartCount") == 1 and ready(p))
    last = container_status(pod)["lastState"]["terminated"]
    assert last["exitCode"] == 137 and last["reason"] == "Error"
    (second_pid,) = pids_of(pod)
    assert second_pid != first_pid and not process.is_alive(first_pid)
    async with asyncio.timeout(5):
        while (await event_reasons(running.client, "crashy")).count("Started") < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    await client.delete(PODS, "crashy", "default")
    await running.gone("crashy")
    assert process.session_members(second_pid) == []


async def test_container_without_command_reports_why(running: Running) -> None:
    body = {"metadata": {"name": "nginx"}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}
    await running.client.create(PODS, body, "default")
    pod = await running.until("nginx", lambda p: "CreateContainerError" in str(container_status(p)))
    waiting = container_status(pod)["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerError"
    assert "has no command" in waiting["message"] and "nginx:1.27" in waiting["message"]
    assert pod["status"]["phase"] == "Pending"
    async with asyncio.timeout(5):
        while "Failed" not in await event_reasons(running.client, "nginx"):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    assert "Scheduled" in await event_reasons(running.client, "nginx")
    await running.client.delete(PODS, "nginx", "default")
    await running.gone("nginx")


async def test_logs_through_the_api_server(running: Running) -> None:
    client = running.client
    script = "for i in 1 2 3; do echo line $i; done; sleep 30"
    body = {
        "metadata": {"name": "talker"},
        "spec": {"containers": [{"name": "main", "image": "sh", "command": ["sh", "-c", script]}]},
    }
    await client.create(PODS, body, "default")
    await running.until("talker", ready)
    path = "/api/v1/namespaces/default/pods/talker/log"
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client.connection.ssl or False))
    headers = dict(client.connection.headers)
    async with session:

        async def read(params: dict[str, str]) -> tuple[int, str]:
            url = client.connection.server + path
            async with session.get(url, params=params, headers=headers) as response:
                return response.status, await response.text()

        async with asyncio.timeout(10):
            while (await read({"container": "main"}))[1].count("\n") < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert await read({"container": "main"}) == (200, "line 1\nline 2\nline 3\n")
        assert await read({"tailLines": "1"}) == (200, "line 3\n")
        status, text = await read({"previous": "true"})
        assert status == 400 and "previous terminated container" in text

        # follow streams until the container ends.
        script = "echo a; sleep 0.6; echo b"
        body = {
            "metadata": {"name": "brief"},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "sh", "command": ["sh", "-c", script]}],
            },
        }
        await client.create(PODS, body, "default")
        await running.until("brief", lambda p: "running" in str(container_status(p).get("state")))
        url = client.connection.server + "/api/v1/namespaces/default/pods/brief/log"
        async with (
            asyncio.timeout(10),
            session.get(url, params={"follow": "true"}, headers=headers) as response,
        ):
            assert await response.text() == "a\nb\n"


async def test_deleting_runs_pre_stop_then_sigterm_and_finalizes(running: Running, tmp_path: Path) -> None:
    hook = tmp_path / "hook-ran"
    verdict = tmp_path / "verdict"
    script = f"trap 'test -e {hook} && echo yes > {verdict}; exit 0' TERM; while true; do sleep 0.02; done"
    container = {
        "name": "main",
        "image": "sh",
        "command": ["sh", "-c", script],
        "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", f"touch {hook}; sleep 0.5"]}}},
    }
    body = {
        "metadata": {"name": "graceful"},
        "spec": {"containers": [container], "terminationGracePeriodSeconds": 30},
    }
    await running.client.create(PODS, body, "default")
    await running.until("graceful", ready)
    deleted = await running.client.delete(PODS, "graceful", "default")
    assert deleted["metadata"]["deletionTimestamp"]  # the server waits for the kubelet
    # The pod stays, marked for deletion, while its preStop hook runs and its process lives.
    pod = await running.until("graceful", lambda p: hook.exists())
    assert pod["metadata"]["deletionTimestamp"]
    assert not verdict.exists()
    assert all(process.is_alive(pid) for pid in pids_of(pod))
    await running.gone("graceful")
    assert verdict.read_text() == "yes\n"


async def test_kubelet_restart_replaces_processes_and_leaves_no_orphans(
    apiserver: ThreadedApiServer, tmp_path: Path
) -> None:
    state_dir = tmp_path / "kubelet"
    async with ApiClient(load_connection(apiserver.kubeconfig, environ={})) as client:
        kubelet, stop, task = await start_kubelet(client, state_dir)
        seen: set[int] = set()
        state = Running(client, kubelet, state_dir, seen)
        await client.create(PODS, app_pod("survivor"), "default")
        await client.create(PODS, app_pod("doomed"), "default")
        pod = await state.until("survivor", ready)
        doomed = await state.until("doomed", ready)
        (first_pid,) = pids_of(pod)
        stop.set()
        await asyncio.wait_for(task, 30)
        # Deleted while no kubelet runs: its processes are already gone, its logs go at restart.
        await client.delete(PODS, "doomed", "default", grace_period_seconds=0)
        doomed_dir = state_dir / "pods" / f"default_doomed_{doomed['metadata']['uid']}"
        assert doomed_dir.is_dir()
        assert process.session_members(first_pid) == []
        assert await client.get_or_none(MUTATING_WEBHOOKS, "localkube-kubelet") is None
        pod = await client.get(PODS, "survivor", "default")
        assert not ready(pod)

        kubelet, stop, task = await start_kubelet(client, state_dir)
        try:
            pod = await state.until("survivor", lambda p: ready(p) and pids_of(p) != {first_pid})
            assert container_status(pod)["restartCount"] == 1
            assert not doomed_dir.exists()
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
        assert [pid for pid in seen if process.session_members(pid)] == []


async def test_webhook_answers_admission_reviews_over_https(running: Running) -> None:
    webhook = await running.client.get(MUTATING_WEBHOOKS, "localkube-kubelet")
    hook = webhook["webhooks"][0]
    assert hook["failurePolicy"] == "Fail" and hook["sideEffects"] == "None"
    assert hook["rules"][0]["resources"] == ["pods"] and hook["rules"][0]["operations"] == ["CREATE"]
    ca = base64.b64decode(hook["clientConfig"]["caBundle"]).decode()
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "abc",
            "operation": "CREATE",
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "object": {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    }
    context = ssl.create_default_context(cadata=ca)  # verifies the serving certificate
    async with (
        aiohttp.ClientSession() as http,
        http.post(hook["clientConfig"]["url"], json=review, ssl=context) as response,
    ):
        answer = await response.json()
    assert answer["response"]["uid"] == "abc" and answer["response"]["allowed"] is True
    assert answer["response"]["patchType"] == "JSONPatch"
    ops = json.loads(base64.b64decode(answer["response"]["patch"]))
    added = next(op for op in ops if op["path"] == "/spec/containers/0/ports")
    assert added["value"][0]["name"] == "http"
    port = added["value"][0]["containerPort"]
    assert {
        "op": "add",
        "path": "/spec/containers/0/env",
        "value": [{"name": "PORT", "value": str(port)}],
    } in ops


async def test_pods_of_other_nodes_are_left_alone(running: Running) -> None:
    other = app_pod("elsewhere", nodeName="node-b")
    await running.client.create(PODS, other, "default")
    await running.client.create(PODS, app_pod("here"), "default")
    await running.until("here", ready)
    pod = await running.client.get(PODS, "elsewhere", "default")
    assert pod["spec"]["nodeName"] == "node-b"
    assert not (pod.get("status") or {}).get("containerStatuses")
    await running.client.delete(PODS, "elsewhere", "default", grace_period_seconds=0)


async def test_a_second_kubelet_for_the_same_node_refuses_to_start(running: Running, tmp_path: Path) -> None:
    second = Kubelet(running.client, KubeletConfig(state_dir=tmp_path / "second"))
    with pytest.raises(NodeTaken, match="already runs"):
        await asyncio.wait_for(second.run(asyncio.Event()), 10)
    same_dir = Kubelet(running.client, KubeletConfig(state_dir=running.state_dir, node_name="other"))
    with pytest.raises(StateDirBusy, match="already uses"):
        await asyncio.wait_for(same_dir.run(asyncio.Event()), 10)
    # The first one is untouched: its webhook and Node stay, and it still runs pods.
    assert await running.client.get_or_none(MUTATING_WEBHOOKS, "localkube-kubelet") is not None
    await running.client.create(PODS, app_pod("after"), "default")
    await running.until("after", ready)


@pytest.mark.slow
async def test_kwake_kubelet_command_runs_pods_and_stops_them_on_sigterm(
    apiserver: ThreadedApiServer, tmp_path: Path
) -> None:
    argv = [sys.executable, "-m", "serving.cli.main", "kubelet", "--kubeconfig", str(apiserver.kubeconfig)]
    argv += ["--state-dir", str(tmp_path / "kubelet"), "--log-level", "WARNING"]
    command = await asyncio.create_subprocess_exec(*argv)
    try:
        async with ApiClient(load_connection(apiserver.kubeconfig, environ={})) as client:
            state = Running(client, None, tmp_path / "kubelet", set())
            async with asyncio.timeout(30):
                while await client.get_or_none(MUTATING_WEBHOOKS, "localkube-kubelet") is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            await client.create(PODS, app_pod("via-cli"), "default")
            pod = await state.until("via-cli", ready, seconds=30)
            assert pod["spec"]["containers"][0]["ports"][0]["containerPort"] != 8080
            command.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(command.wait(), 30) == 0
            assert [pid for pid in state.pids if process.session_members(pid)] == []
            # Run alone against a foreign server, it cleans up its webhook on the way out.
            assert await client.get_or_none(MUTATING_WEBHOOKS, "localkube-kubelet") is None
    finally:
        if command.returncode is None:
            command.kill()
            await command.wait()


async def test_a_revision_pod_built_by_the_reconciler_is_ready_on_its_own_port(running: Running) -> None:
    """The contract with serving's revision reconciler: its pod template runs here as is."""
    app = {"name": "user-container", "image": "hello", "command": [sys.executable, "-c", APP]}
    revision = Revision.from_body(revision_body(spec={"containers": [app], "containerConcurrency": 0}))
    template = make_deployment(revision, CFG)["spec"]["template"]
    pod = {"metadata": {"name": "hello-00001-deployment-x", **template["metadata"]}, "spec": template["spec"]}
    await running.client.create(PODS, pod, "default")
    started = asyncio.get_running_loop().time()
    made = await running.until("hello-00001-deployment-x", ready)
    assert asyncio.get_running_loop().time() - started < 10
    container = made["spec"]["containers"][0]
    port = container["ports"][0]["containerPort"]
    assert container["ports"][0]["name"] == "user-port" and port != 8080
    assert {"name": "PORT", "value": str(port)} in container["env"]
    assert await get_text(port) == f" {port}"  # the app answers on the port it was given
    await running.client.delete(PODS, "hello-00001-deployment-x", "default")
    await running.gone("hello-00001-deployment-x")


async def test_readiness_gates_hold_the_pod_until_their_condition_is_true(running: Running) -> None:
    gate = "example.com/load-balancer"
    await running.client.create(PODS, app_pod("gated", readinessGates=[{"conditionType": gate}]), "default")

    def gated(pod: Obj) -> bool:
        conditions = {c["type"]: c for c in (pod.get("status") or {}).get("conditions") or []}
        return bool(conditions.get("ContainersReady", {}).get("status") == "True")

    pod = await running.until("gated", gated)
    assert not ready(pod)
    ready_condition = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert ready_condition["reason"] == "ReadinessGatesNotReady"
    # Another writer (a load balancer controller, say) opens the gate.
    opened = {
        "type": gate,
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    await running.client.patch(
        PODS,
        "gated",
        [{"op": "add", "path": "/status/conditions/-", "value": opened}],
        "default",
        subresource="status",
        patch_type="json",
    )
    pod = await running.until("gated", ready)
    assert opened in pod["status"]["conditions"]  # kept by the kubelet's own writes
