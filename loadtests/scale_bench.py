"""Scale-from-zero benchmark: how much time localkube adds to an app's own start.

    python -m loadtests.scale_bench [--rounds 5] [--json out.json]

Starts `kwake localkube` (API server, controllers and kubelet in one process) as a subprocess
on a temp state dir, with a Deployment of the trivial hello app
(`loadtests.apps.hello`) at 0 replicas behind a Service with a named targetPort. Then, for each
round, it scales the Deployment through its scale subresource to 1 (and to 10), and times:

- platform: scale PATCH sent -> every pod's address Ready in the Service's Endpoints;
- app alone: spawning the same command directly -> its port answering HTTP (the same number of
  processes at once), measured the same way, with the same polling;
- overhead = platform - app alone (medians), with a breakdown from watch events (PATCH -> pod
  created -> pod Ready -> in Endpoints).

Targets: overhead under 50 ms for 0 -> 1; 0 -> 10 under 2 s. Every wait is bounded in time,
rounds are bounded in count, and every process started is stopped (and checked) at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from localkube.client import (
    DEPLOYMENTS,
    ENDPOINTS,
    NODES,
    PODS,
    SERVICES,
    ApiClient,
    Informer,
    load_connection,
)
from localkube.controllers import pods as podutil

REPO = Path(__file__).resolve().parent.parent
APP_ARGV = [sys.executable, "-m", "loadtests.apps.hello"]
NAME = "hello"
NAMESPACE = "default"
WAIT_LIMIT = 60.0  # seconds: no single wait in this benchmark may take longer
POLL = 0.001  # seconds between connection attempts per app process when timing one alone
MARKER = "KWAKE_SCALE_BENCH"  # in every app's environment, to find leftovers of this run only
SCALES = (1, 10)

Obj = dict[str, Any]


# --- the app alone ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def answers(port: int) -> bool:
    """One HTTP GET / on 127.0.0.1:port; True when it answers 200."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        await writer.drain()
        status = await reader.readline()
        return status.startswith(b"HTTP/1.1 200")
    except OSError:
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@dataclass
class PortWatch:
    """Polls ports until each answers HTTP; records when (perf_counter) each first did.

    The same poller times the app alone and the pods under localkube, so both carry the same
    polling load: about 1000 attempts per second in all (n pending ports, n ms apart).
    """

    answered: dict[int, float] = field(default_factory=dict)
    pending: set[int] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, port: int) -> None:
        if port not in self.answered and port not in self.pending:
            self.pending.add(port)
            self._wake.set()

    async def run(self) -> None:
        while True:
            if not self.pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            ports = list(self.pending)
            results = await asyncio.gather(*(answers(p) for p in ports))
            now = time.perf_counter()
            for port, ok in zip(ports, results, strict=True):
                if ok:
                    self.answered[port] = now
                    self.pending.discard(port)
                    self.changed.set()
            if self.pending:
                await asyncio.sleep(POLL * len(self.pending))


@contextlib.asynccontextmanager
async def port_watch() -> AsyncIterator[PortWatch]:
    watch = PortWatch()
    task = asyncio.create_task(watch.run(), name="scale-bench-port-watch")
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def spawn_until_answering(count: int) -> float:
    """Seconds from spawning `count` app processes at once until every one answers."""
    ports = [free_port() for _ in range(count)]
    procs: list[asyncio.subprocess.Process] = []
    async with port_watch() as watch:
        started = time.perf_counter()
        try:
            for port in ports:
                proc = await asyncio.create_subprocess_exec(
                    *APP_ARGV,
                    cwd=REPO,
                    env={**os.environ, "PORT": str(port), MARKER: run_id()},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    # Its own session, as the kubelet starts containers: with the kernel's
                    # autogroup scheduling a session is also a CPU share; keep it fair.
                    start_new_session=True,
                )
                procs.append(proc)
                watch.add(port)
            async with asyncio.timeout(WAIT_LIMIT):
                while len(watch.answered) < count:
                    watch.changed.clear()
                    await watch.changed.wait()
            return max(watch.answered.values()) - started
        finally:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                try:
                    async with asyncio.timeout(5):
                        await proc.wait()
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    await proc.wait()


# --- localkube as subprocesses ---------------------------------------------------------------


@dataclass
class Processes:
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                argv, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)


async def wait_for_file(path: Path, procs: Processes) -> None:
    async with asyncio.timeout(WAIT_LIMIT):
        while not await asyncio.to_thread(path.exists):
            for proc in procs.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
            await asyncio.sleep(0.02)


def manifests() -> tuple[Obj, Obj]:
    labels = {"app": NAME}
    container = {
        "name": "app",
        "image": "hello",
        "command": APP_ARGV,
        "workingDir": str(REPO),
        "env": [{"name": MARKER, "value": run_id()}],
        "ports": [{"name": "http", "containerPort": 8080}],
        # periodSeconds 0: the kubelet polls aggressively until ready, as Knative's queue-proxy does.
        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 0},
    }
    deployment = {
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 5},
            },
        },
    }
    service = {
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }
    return deployment, service


# --- timing scale-ups through the API --------------------------------------------------------


@dataclass
class Timeline:
    """When (perf_counter seconds) each thing was first seen, for one scale-up."""

    patched: float = 0.0
    pods_created: dict[str, float] = field(default_factory=dict)
    pod_ports: dict[str, int] = field(default_factory=dict)
    pods_ready: dict[str, float] = field(default_factory=dict)
    in_endpoints: dict[str, float] = field(default_factory=dict)
    answered: dict[str, float] = field(default_factory=dict)

    def answering(self, watch: PortWatch) -> dict[str, float]:
        """When each pod's app first answered our own poller."""
        return {name: watch.answered[port] for name, port in self.pod_ports.items() if port in watch.answered}


@dataclass
class Observer:
    """Watches pods and Endpoints in this process and records when things happen."""

    watch: PortWatch
    timeline: Timeline = field(default_factory=Timeline)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    ready_addresses: set[str] = field(default_factory=set)
    pods: set[str] = field(default_factory=set)

    async def on_pod(self, pod: Obj) -> None:
        now = time.perf_counter()
        name = pod["metadata"]["name"]
        if podutil.is_terminating(pod):
            return
        self.pods.add(name)
        self.timeline.pods_created.setdefault(name, now)
        port = serving_port(pod)
        if port is not None and name not in self.timeline.pod_ports:
            # The admission webhook gave the pod its own port: poll it as we poll the app alone.
            self.timeline.pod_ports[name] = port
            self.watch.add(port)
        for condition in pod.get("status", {}).get("conditions") or []:
            if condition.get("type") == "Ready" and condition.get("status") == "True":
                self.timeline.pods_ready.setdefault(name, now)
        self.changed.set()

    async def on_pod_update(self, old: Obj, new: Obj) -> None:
        await self.on_pod(new)

    async def on_pod_delete(self, pod: Obj) -> None:
        self.pods.discard(pod["metadata"]["name"])
        self.changed.set()

    async def on_endpoints(self, endpoints: Obj) -> None:
        now = time.perf_counter()
        names = {
            address["targetRef"]["name"]
            for subset in endpoints.get("subsets") or []
            for address in subset.get("addresses") or []
            if address.get("targetRef")
        }
        for name in names - self.ready_addresses:
            self.timeline.in_endpoints.setdefault(name, now)
        self.ready_addresses = names
        self.changed.set()

    async def on_endpoints_update(self, old: Obj, new: Obj) -> None:
        await self.on_endpoints(new)

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_LIMIT):
            while True:
                self.changed.clear()
                if predicate():
                    return
                await self.changed.wait()


def serving_port(pod: Obj) -> int | None:
    for container in pod.get("spec", {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == "http" and port.get("containerPort"):
                return int(port["containerPort"])
    return None


@contextlib.asynccontextmanager
async def observing(client: ApiClient, watch: PortWatch) -> AsyncIterator[Observer]:
    observer = Observer(watch)
    pods = Informer(client, PODS, namespace=NAMESPACE, label_selector=f"app={NAME}")
    pods.add_handlers(
        on_add=observer.on_pod, on_update=observer.on_pod_update, on_delete=observer.on_pod_delete
    )
    endpoints = Informer(client, ENDPOINTS, namespace=NAMESPACE, field_selector=f"metadata.name={NAME}")
    endpoints.add_handlers(on_add=observer.on_endpoints, on_update=observer.on_endpoints_update)
    async with pods, endpoints:
        async with asyncio.timeout(WAIT_LIMIT):
            await pods.wait_synced()
            await endpoints.wait_synced()
        yield observer


async def scale_up(client: ApiClient, observer: Observer, replicas: int) -> Timeline:
    """Scale 0 -> replicas, wait until all are in Endpoints, scale back to 0 and wait until gone."""
    observer.timeline = Timeline()
    observer.watch.answered.clear()
    observer.timeline.patched = time.perf_counter()
    await client.patch(DEPLOYMENTS, NAME, {"spec": {"replicas": replicas}}, NAMESPACE, subresource="scale")
    await observer.until(lambda: len(observer.ready_addresses) >= replicas)
    timeline = observer.timeline
    timeline.pod_ports = {n: p for n, p in timeline.pod_ports.items() if n in timeline.in_endpoints}
    async with asyncio.timeout(WAIT_LIMIT):  # our poller may be a moment behind the kubelet's probe
        while len(timeline.answering(observer.watch)) < replicas:
            observer.watch.changed.clear()
            await observer.watch.changed.wait()
    answering = timeline.answering(observer.watch)
    timeline.answered = answering
    await client.patch(DEPLOYMENTS, NAME, {"spec": {"replicas": 0}}, NAMESPACE, subresource="scale")
    await observer.until(lambda: not observer.ready_addresses and not observer.pods)
    return timeline


# --- the report ------------------------------------------------------------------------------


@dataclass
class Result:
    """Figures in ms for one scale size, one entry per round."""

    replicas: int
    platform: list[float]  # scale PATCH -> all pods Ready in Endpoints
    app_alone: list[float]  # spawn -> all answering, without localkube
    to_created: list[float]  # scale PATCH -> last pod seen (controller + admission)
    created_to_answering: list[float]  # pod seen -> its app answers (kubelet spawn + app start)
    answering_to_ready: list[float]  # app answers -> pod Ready (kubelet probe + status write)
    ready_to_endpoints: list[float]  # pod Ready -> in Endpoints (endpoints controller)

    @property
    def overhead(self) -> float:
        """Platform minus app alone (medians): what localkube adds to the app's own start."""
        return statistics.median(self.platform) - statistics.median(self.app_alone)


def summarize(replicas: int, timelines: list[Timeline], alone: list[float]) -> Result:
    def ms(value: float) -> float:
        return round(value * 1000, 1)

    def worst(t: Timeline, start: dict[str, float], end: dict[str, float]) -> float:
        return ms(max(end[n] - start[n] for n in end if n in start))

    return Result(
        replicas=replicas,
        platform=[ms(max(t.in_endpoints.values()) - t.patched) for t in timelines],
        app_alone=[ms(a) for a in alone],
        to_created=[ms(max(t.pods_created.values()) - t.patched) for t in timelines],
        created_to_answering=[worst(t, t.pods_created, t.answered) for t in timelines],
        answering_to_ready=[worst(t, t.answered, t.pods_ready) for t in timelines],
        ready_to_endpoints=[worst(t, t.pods_ready, t.in_endpoints) for t in timelines],
    )


def report(results: list[Result]) -> str:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    lines = [
        "medians in ms    platform  app-alone  overhead | PATCH->pod  pod->answering  answering->Ready"
        "  Ready->Endpoints",
    ]
    for r in results:
        lines.append(
            f"0 -> {r.replicas:<10} {med(r.platform):9.1f} {med(r.app_alone):10.1f} {r.overhead:9.1f} |"
            f" {med(r.to_created):10.1f} {med(r.created_to_answering):15.1f}"
            f" {med(r.answering_to_ready):16.1f} {med(r.ready_to_endpoints):17.1f}"
        )
    for r in results:
        # The difference of two noisy medians swings with the machine's load; the platform's own
        # stages, measured directly, are steadier (they leave out only the kubelet's spawn).
        stages = med(r.to_created) + med(r.answering_to_ready) + med(r.ready_to_endpoints)
        lines.append(
            f"0 -> {r.replicas}: platform stages alone (PATCH->pod + answering->Endpoints) {stages:.1f} ms"
        )
    one = next((r for r in results if r.replicas == 1), None)
    ten = next((r for r in results if r.replicas == 10), None)
    if one is not None:
        verdict = "met" if one.overhead < 50 else "MISSED"
        lines.append(f"target: 0 -> 1 overhead < 50 ms: {verdict} ({one.overhead:.1f} ms)")
    if ten is not None:
        platform = med(ten.platform)
        lines.append(
            f"target: 0 -> 10 < 2000 ms: {'met' if platform < 2000 else 'MISSED'} ({platform:.1f} ms)"
        )
    return "\n".join(lines)


async def run(rounds: int, state_dir: Path) -> list[Result]:
    procs = Processes()
    cli = [sys.executable, "-m", "serving.cli.main"]
    try:
        procs.start(
            [*cli, "localkube", "--state-dir", str(state_dir), "--api-port", "0"], state_dir.parent / "lk.log"
        )
        kubeconfig = state_dir / "kubeconfig"
        await wait_for_file(kubeconfig, procs)
        async with ApiClient(load_connection(kubeconfig, environ={})) as client:
            await wait_for_node(client)
            deployment, service = manifests()
            await client.create(SERVICES, service)
            await client.create(DEPLOYMENTS, deployment)
            results = []
            async with port_watch() as watch, observing(client, watch) as observer:
                await scale_up(client, observer, 1)  # warm-up: first imports, caches
                for replicas in SCALES:
                    timelines: list[Timeline] = []
                    alone: list[float] = []
                    for _ in range(rounds):  # interleaved, so both see the same machine load
                        timelines.append(await scale_up(client, observer, replicas))
                        alone.append(await spawn_until_answering(replicas))
                    results.append(summarize(replicas, timelines, alone))
            await client.delete(DEPLOYMENTS, NAME, NAMESPACE)
            await client.delete(SERVICES, NAME, NAMESPACE)
        return results
    finally:
        procs.stop()
        leftovers = leftover_apps()
        if leftovers:
            print(f"warning: app processes left behind: {leftovers}", file=sys.stderr)


async def wait_for_node(client: ApiClient) -> None:
    for _attempt in range(int(WAIT_LIMIT / 0.05)):
        if (await client.list(NODES))["items"]:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the kubelet registered no Node")


def run_id() -> str:
    return f"{os.getpid()}"


def leftover_apps() -> list[int]:
    """PIDs of this run's app processes still alive (there should be none)."""
    marker = f"{MARKER}={run_id()}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="scale-ups per size (default 5, at most 50)")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    args = parser.parse_args(argv)
    rounds = max(1, min(50, args.rounds))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="kwake-scale-bench-") as tmp:
        results = asyncio.run(run(rounds, Path(tmp) / "state"))
    print(report(results))
    # Other work on the machine moves these figures a lot: say how busy it was.
    print(f"{rounds} rounds per size; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) | {"overhead": r.overhead} for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
