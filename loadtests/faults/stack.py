"""A `kwake up` to break: any manifests, its processes found by pid, no process left behind.

`start(manifests, ready=[...])` runs `kwake up` on free loopback ports in a temporary state dir
and returns `loadtests.kwake.KwakeUp` (its `stop()` ends it). Every process it starts, pods
included, inherits `KWAKE_LOADTEST_MARK=<state dir>` in its environment, which is how
`processes_of(up)` finds what is left of it and `gateway_pid(up)` finds its gateway. Pod
processes are found through the API: the kubelet writes `process://<pid>` as each container's
`containerID`, and each container runs in its own process group led by that pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from loadtests.dataplane import _free_port as free_port
from loadtests.kwake import ROOT, KwakeUp
from localkube.client import PODS, ApiClient
from serving.api import keys

MARK = "KWAKE_LOADTEST_MARK"


def service(
    name: str,
    app: str = "loadtests.apps.hello",
    *,
    annotations: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    spec: Mapping[str, Any] | None = None,
    container: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Knative Service running `python3 -m APP` as a local process (what the kubelet runs)."""
    user_container: dict[str, Any] = {
        "image": "ghcr.io/kwake/kwake:0.1.0",
        "command": ["python3", "-m", app],
        **(container or {}),
    }
    if env:
        user_container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    template: dict[str, Any] = {"spec": {"containers": [user_container], **(spec or {})}}
    if annotations:
        template["metadata"] = {"annotations": dict(annotations)}
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"template": template},
    }


def config_map(name: str, data: Mapping[str, str]) -> dict[str, Any]:
    """One of kwake's ConfigMaps in kwake-system (config-autoscaler, config-deployment ...)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "kwake-system"},
        "data": dict(data),
    }


def start(
    manifests: Sequence[Mapping[str, Any]],
    ready: Sequence[str],
    *,
    args: Sequence[str] = (),
    within: float = 120.0,
) -> KwakeUp:
    """`kwake up -f <manifests> ARGS`, returned once each Service named in `ready` is Ready."""
    tmp = tempfile.TemporaryDirectory(prefix="kwake-faults-")
    base = Path(tmp.name)
    manifest = base / "manifests.yaml"
    manifest.write_text(yaml.safe_dump_all([dict(m) for m in manifests]))
    state = base / "state"
    output = base / "up.log"
    port = free_port()
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "serving.cli.main", "up", "-f", str(manifest),
             "--state-dir", str(state), "--gateway-port", str(port), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, MARK: str(state)},
        )  # fmt: skip
    up = KwakeUp(process, state, port, ready[0] if ready else "", output, tmp)
    try:
        deadline = time.monotonic() + within
        for name in ready:
            up.wait_output(f"service default/{name} is Ready", max(1.0, deadline - time.monotonic()))
    except BaseException:
        up.stop()
        raise
    return up


def _proc_text(pid: str, name: str) -> str:
    try:
        raw = Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def processes_of(up: KwakeUp) -> list[str]:
    """'pid: cmdline' of every live process carrying this kwake up's mark (zombies excluded)."""
    needle = f"{MARK}={up.state}"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        if needle in _proc_text(entry.name, "environ") and proc_state(int(entry.name)) not in ("Z", None):
            found.append(f"{entry.name}: {_proc_text(entry.name, 'cmdline')}")
    return found


def wait_no_processes(up: KwakeUp, within: float = 10.0) -> list[str]:
    """What is still running of `up` after `within` seconds (an empty list when all is gone)."""
    deadline = time.monotonic() + within
    left = processes_of(up)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = processes_of(up)
    return left


def proc_state(pid: int) -> str | None:
    stat = _proc_text(str(pid), "stat")
    if not stat:
        return None
    return stat.rpartition(")")[2].split()[0]


def gateway_pid(up: KwakeUp) -> int:
    """The gateway process `kwake up` supervises (the one serving its gateway port)."""
    needle = f"--port {up.port} "
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        cmdline = _proc_text(entry.name, "cmdline")
        if " gateway " in cmdline and needle in cmdline and str(up.state) in cmdline:
            return int(entry.name)
    raise LookupError(f"no gateway process of {up.state}")


def memory_kib(pid: int) -> dict[str, int]:
    """VmHWM (the resident high-water mark) and VmRSS of a live process, in KiB."""
    found: dict[str, int] = {}
    for line in _proc_text(str(pid), "status").splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            found[name] = int(value.split()[0])
    return found


@dataclass(frozen=True)
class PodProcess:
    name: str
    pid: int
    address: str  # host:port the gateway sends to, as its access log names the pod
    ready: bool


async def pod_processes(client: ApiClient, service_name: str, namespace: str = "default") -> list[PodProcess]:
    """The running container process of each pod of a Service (pods without one are skipped)."""
    listed = await client.list(PODS, namespace, label_selector=f"{keys.SERVICE_LABEL}={service_name}")
    found = []
    for pod in listed["items"]:
        status = pod.get("status") or {}
        for cs in status.get("containerStatuses") or []:
            container_id = str(cs.get("containerID") or "")
            if not container_id.startswith("process://") or "running" not in (cs.get("state") or {}):
                continue
            ports = [p for c in pod["spec"]["containers"] for p in c.get("ports") or []]
            port = ports[0]["containerPort"] if ports else 0
            found.append(
                PodProcess(
                    pod["metadata"]["name"],
                    int(container_id.removeprefix("process://")),
                    f"{status.get('podIP') or '127.0.0.1'}:{port}",
                    bool(cs.get("ready")),
                )
            )
    return found


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by `pid` (a container and anything it started)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


async def wait_exited(pid: int, within: float = 5.0) -> float:
    """Wall time at which `pid` has exited, zombie or reaped (a SIGKILLed process takes a while
    to die, more on a loaded machine, and keeps its connections open until it has). A pidfd
    turns readable at that moment, whoever its parent is."""
    loop = asyncio.get_running_loop()
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return time.time()
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(fd, readable)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(exited, within)
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return time.time()
