"""What a scenario needs from kwake: start `kwake up`, act on the Service, watch replicas.

`KwakeUp` starts `kwake up` on free loopback ports in a temporary state dir (short autoscaler
windows through a config-autoscaler ConfigMap applied with the Service) and stops it with
SIGTERM; `Cluster` patches the Service, waits for Ready or for zero pods, and samples desired
and ready replicas per revision (PodAutoscalers and Deployments) plus the gateway's queue depth
from its Prometheus text. All through `localkube.client`, so it works against any cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from loadtests.dataplane import _free_port as free_port
from localkube.client import DEPLOYMENTS, PODS, ApiClient, Resource, load_connection
from serving.api import keys

ROOT = Path(__file__).resolve().parent.parent
KSVC = Resource("serving.knative.dev", "v1", "services", True, "Service")
PODAUTOSCALERS = Resource(
    keys.AUTOSCALING_INTERNAL_GROUP, "v1alpha1", "podautoscalers", True, "PodAutoscaler"
)
QUEUE_DEPTH = "kwake_gateway_queue_depth"
# What kwake up prints once it is done starting (serving/cli/up.py).
UP_RUNNING = "kwake: running; press Ctrl-C to stop"


def hello_service(name: str, annotations: dict[str, str]) -> dict[str, Any]:
    """examples/hello.yaml under another name, with template annotations added."""
    body: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "hello.yaml").read_text())
    body["metadata"]["name"] = name
    if annotations:
        body["spec"]["template"].setdefault("metadata", {}).setdefault("annotations", {}).update(annotations)
    return body


@dataclass
class KwakeUp:
    """A running `kwake up` (see `start`); `stop()` ends it and removes its state dir."""

    process: subprocess.Popen[bytes]
    state: Path
    port: int
    service: str
    output: Path
    tmp: tempfile.TemporaryDirectory[str]

    @property
    def kubeconfig(self) -> Path:
        return self.state / "cluster" / "kubeconfig"

    @property
    def access_log(self) -> Path:
        return self.state / "logs" / "access.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"{self.service}.default.localhost"

    @classmethod
    def start(
        cls,
        annotations: dict[str, str],
        autoscaler: dict[str, str],
        service: str = "hello",
        within: float = 180.0,
    ) -> KwakeUp:
        tmp = tempfile.TemporaryDirectory(prefix="kwake-loadtest-")
        base = Path(tmp.name)
        manifests = [hello_service(service, annotations)]
        if autoscaler:
            manifests.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "config-autoscaler", "namespace": "kwake-system"},
                    "data": autoscaler,
                }
            )
        manifest = base / "manifests.yaml"
        manifest.write_text(yaml.safe_dump_all(manifests))
        state = base / "state"
        output = base / "up.log"
        port = free_port()
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "serving.cli.main", "up", "-f", str(manifest),
                 "--state-dir", str(state), "--gateway-port", str(port)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env={**os.environ, "KWAKE_LOADTEST_MARK": str(state)},
            )  # fmt: skip
        up = cls(process, state, port, service, output, tmp)
        try:
            up.wait_output(f"service default/{service} is Ready", within)
        except BaseException:
            up.stop()
            raise
        return up

    def wait_output(self, needle: str, within: float) -> None:
        """Until `needle` is in kwake up's output. It prints each Ready Service before its
        `running` line, so once that line is out (a manifest not applied, a Service not Ready
        in its own time) the needle will not come: fail then, not at `within`."""
        started = time.monotonic()
        deadline = started + within
        while time.monotonic() < deadline:
            text = self.output.read_text(errors="replace")
            if needle in text:
                return
            if self.process.poll() is not None or UP_RUNNING in text:
                break
            time.sleep(0.2)
        tail = self.output.read_text(errors="replace")[-3000:]
        raise RuntimeError(
            f"kwake up: no {needle!r} after {time.monotonic() - started:.0f}s (of {within:.0f}s);"
            f" its output ends:\n{tail}{self._component_tails()}"
        )

    def _component_tails(self, chars: int = 1500) -> str:
        """The end of each component's log: why a start stalled is there, and the state dir
        that holds them is removed when the run stops."""
        parts = []
        for log in sorted((self.state / "logs").glob("*.log")):
            if log.name != "access.log":
                text = log.read_text(errors="replace")[-chars:]
                parts.append(f"\n--- {log.name} ends:\n{text}")
        return "".join(parts)

    def stop(self, keep_logs: Path | None = None) -> None:
        """SIGTERM and wait; copy its logs (components, access log, its own output) to
        `keep_logs` if given, then remove the state dir."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if keep_logs is not None:
            shutil.copytree(self.state / "logs", keep_logs, dirs_exist_ok=True)
            shutil.copy(self.output, keep_logs / "up.log")
        self.tmp.cleanup()


@dataclass
class Cluster:
    """The Service under test, through the API (and the gateway's metrics, if given)."""

    client: ApiClient
    service: str
    namespace: str = "default"
    gateway_metrics: str | None = None
    _http: aiohttp.ClientSession | None = field(default=None, repr=False)

    @classmethod
    def connect(cls, kubeconfig: Path, service: str, namespace: str, gateway_metrics: str | None) -> Cluster:
        return cls(ApiClient(load_connection(kubeconfig, environ={})), service, namespace, gateway_metrics)

    async def close(self) -> None:
        await self.client.close()
        if self._http is not None:
            await self._http.close()

    async def ksvc(self) -> dict[str, Any]:
        return await self.client.get(KSVC, self.service, self.namespace)

    async def url_host(self) -> str:
        url = str(((await self.ksvc()).get("status") or {}).get("url") or "")
        return url.split("://", 1)[-1]

    async def patch(self, patch: dict[str, Any]) -> None:
        await self.client.patch(KSVC, self.service, patch, self.namespace)

    async def wait_ready(self, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            ksvc = await self.ksvc()
            status = ksvc.get("status") or {}
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
            )
            if ready and status.get("observedGeneration") == ksvc["metadata"].get("generation"):
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"service {self.namespace}/{self.service} not Ready within {within:.0f}s")

    async def pods(self) -> int:
        listed = await self.client.list(
            PODS, self.namespace, label_selector=f"{keys.SERVICE_LABEL}={self.service}"
        )
        return len(listed["items"])

    async def wait_zero(self, within: float) -> float:
        """Seconds until no pod of the Service is left."""
        started = time.monotonic()
        while await self.pods() > 0:
            if time.monotonic() - started > within:
                raise TimeoutError(
                    f"service {self.namespace}/{self.service} not at zero within {within:.0f}s"
                )
            await asyncio.sleep(0.25)
        return time.monotonic() - started

    async def replicas(self) -> dict[str, dict[str, int]]:
        """{revision: {desired, ready}}: desired from the PodAutoscaler, ready from the Deployment."""
        selector = f"{keys.SERVICE_LABEL}={self.service}"
        found: dict[str, dict[str, int]] = {}
        for pa in (await self.client.list(PODAUTOSCALERS, self.namespace, label_selector=selector))["items"]:
            desired = (pa.get("status") or {}).get("desiredScale")
            entry = found.setdefault(pa["metadata"]["name"], {"desired": 0, "ready": 0})
            entry["desired"] = int(desired) if isinstance(desired, int) and desired >= 0 else 0
        for deploy in (await self.client.list(DEPLOYMENTS, self.namespace, label_selector=selector))["items"]:
            revision = (deploy["metadata"].get("labels") or {}).get(
                keys.REVISION_LABEL, deploy["metadata"]["name"]
            )
            entry = found.setdefault(revision, {"desired": 0, "ready": 0})
            entry["ready"] = int((deploy.get("status") or {}).get("readyReplicas") or 0)
        return found

    async def queue_depth(self) -> dict[str, float] | None:
        """{revision: requests queued in the gateway}, or None without a metrics URL or answer."""
        if not self.gateway_metrics:
            return None
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        try:
            async with self._http.get(self.gateway_metrics) as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError):
            return None
        return parse_queue_depth(text)


def parse_queue_depth(text: str) -> dict[str, float]:
    depths: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith(QUEUE_DEPTH + "{"):
            continue
        labels, _, value = line.rpartition(" ")
        revision = ""
        for part in labels[len(QUEUE_DEPTH) + 1 : -1].split(","):
            name, _, quoted = part.partition("=")
            if name.strip() == "revision":
                revision = quoted.strip('"')
        with contextlib.suppress(ValueError):
            depths[revision] = depths.get(revision, 0.0) + float(value)
    return depths


def read_access_log(path: Path, offset: int, host: str, since: float = 0.0) -> dict[str, int]:
    """Requests per revision in the access log past byte `offset`, for this Host only, logged at
    or after `since` (wall clock: the log is written from a thread, so late lines of requests
    sent before the offset was taken may still follow it)."""
    counts: dict[str, int] = {}
    try:
        with path.open("rb") as log:
            log.seek(offset)
            lines = log.read().decode(errors="replace").splitlines()
    except OSError:
        return counts
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if float(entry.get("time") or 0.0) < since:
            continue
        if entry.get("host", "").split(":")[0] == host.split(":", maxsplit=1)[0] and entry.get("revision"):
            counts[entry["revision"]] = counts.get(entry["revision"], 0) + 1
    return counts


def log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
