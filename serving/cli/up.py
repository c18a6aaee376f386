"""`kwake up`: the whole system on one machine, in one command.

Starts localkube (API server, controllers, process kubelet), installs kwake's CRDs and
ConfigMaps, starts the operator, the autoscaler and the gateway as supervised child processes,
applies the given manifests, waits for their Services to be Ready and prints how to reach them.
Ctrl-C or SIGTERM stops everything in order, the gateway first so it drains.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import signal
import socket
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from localkube.client import (
    MUTATING_WEBHOOKS,
    VALIDATING_WEBHOOKS,
    ApiClient,
    ApiError,
    Resource,
    load_connection,
)
from serving.cli import bootstrap
from serving.cli.manifests import ManifestError, ResourceMap, apply, load_manifests
from serving.cli.supervisor import Component, Supervisor, kill_leftovers, kwake_argv

KSVC = Resource("serving.knative.dev", "v1", "services", True, "Service")
READY_TIMEOUT_SECONDS = 180.0
APPLY_RETRY_SECONDS = 30.0
WEBHOOKS_SECONDS = 30.0
# serving.operator.handlers.WEBHOOK_CONFIG_NAME (not imported: that would load kopf here).
WEBHOOK_CONFIG_NAME = "serving.kwake.dev"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kwake"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        type=Path,
        default=[],
        help="manifest file or folder to apply (repeatable)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help=f"where state and logs live (default {default_state_dir()})",
    )
    parser.add_argument("--gateway-port", type=int, default=8080, help="the gateway's port on 127.0.0.1")
    parser.add_argument("--api-port", type=int, default=0, help="the API server's port (default: a free one)")
    parser.add_argument("--gateway-queue-depth", type=int, default=10000, help="queued requests per revision")
    parser.add_argument("--gateway-workers", type=int, default=1, help="gateway processes sharing its port")
    parser.add_argument("--namespace", default="default", help="namespace for manifests that name none")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=READY_TIMEOUT_SECONDS,
        help="seconds to wait for the applied Services to be Ready",
    )


class Reporter:
    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def __call__(self, message: str, **fields: Any) -> None:
        if self.fmt == "json":
            print(json.dumps({"time": time.time(), "msg": message, **fields}), flush=True)
        else:
            print(f"kwake: {message}", flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_ports(count: int, avoid: Collection[int] = (), attempts: int = 50) -> int:
    """The first of `count` consecutive free ports, none in `avoid` (ports chosen but not yet
    bound); gateway worker i serves admin on first + i."""
    for _ in range(attempts):
        first = _free_port()
        block = range(first, first + count)
        if block[-1] < 65536 and not set(block) & set(avoid) and not any(_port_in_use(p) for p in block[1:]):
            return first
    raise OSError(f"no {count} consecutive free ports on 127.0.0.1")


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


async def _wait_port(port: int, within: float, component: Component) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if component.process is not None and component.process.returncode is not None:
            raise RuntimeError(f"{component.name} exited at start:\n{component.log_tail()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    raise RuntimeError(
        f"{component.name} did not open port {port} within {within:.0f}s:\n{component.log_tail()}"
    )


async def webhooks_registered(client: ApiClient) -> bool:
    """Both of the operator's admission configurations list their webhooks. kopf creates each
    empty and fills it a moment later, the validating one and the mutating one apart."""
    for resource in (MUTATING_WEBHOOKS, VALIDATING_WEBHOOKS):
        config = await client.get_or_none(resource, WEBHOOK_CONFIG_NAME)
        if not (config or {}).get("webhooks"):
            return False
    return True


async def _wait_webhooks(client: ApiClient, within: float, operator: Component, report: Reporter) -> None:
    """Until the operator's webhooks are registered, so that manifests are defaulted and checked
    as any later `kubectl apply` would be; past `within`, apply anyway (admitted unchecked, the
    operator defaults what it reads). A state dir's earlier configurations count: calls to a
    previous operator fail with 500, which `_apply_one` retries."""
    deadline = time.monotonic() + within
    while not await webhooks_registered(client):
        if operator.process is not None and operator.process.returncode is not None:
            raise RuntimeError(f"{operator.name} exited at start:\n{operator.log_tail()}")
        if time.monotonic() > deadline:
            report(f"{operator.name}: no admission webhooks after {within:.0f}s; applying without them")
            return
        await asyncio.sleep(0.05)


async def _wait_file(path: Path, within: float, component: Component) -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(path.exists):
        if component.process is not None and component.process.returncode is not None:
            raise RuntimeError(f"{component.name} exited at start:\n{component.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{component.name} did not start within {within:.0f}s:\n{component.log_tail()}"
            )
        await asyncio.sleep(0.05)


def _ready(ksvc: dict[str, Any]) -> tuple[bool, str]:
    status = ksvc.get("status") or {}
    generation = (ksvc.get("metadata") or {}).get("generation")
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            if status.get("observedGeneration") != generation:
                return False, "reconciling"
            if cond.get("status") == "True":
                return True, ""
            return False, f"{cond.get('reason', '')}: {cond.get('message', '')}".strip(": ")
    return False, "waiting for the operator"


async def wait_ready(
    client: ApiClient,
    services: list[tuple[str, str]],
    seconds: float,
    report: Reporter,
    stop: asyncio.Event | None = None,
) -> list[dict[str, Any]]:
    """The Services once all are Ready; [] at once if `stop` is set meanwhile (Ctrl-C, SIGTERM)."""
    deadline = time.monotonic() + seconds
    last_line = 0.0
    while stop is None or not stop.is_set():
        objects: list[dict[str, Any]] = []
        pending: list[str] = []
        for ns, name in services:
            ksvc = await client.get_or_none(KSVC, name, ns)
            if ksvc is None:
                pending.append(f"{ns}/{name} (missing)")
                continue
            ok, why = _ready(ksvc)
            objects.append(ksvc)
            if not ok:
                pending.append(f"{ns}/{name} ({why})")
        if not pending:
            return objects
        now = time.monotonic()
        if now > deadline:
            raise TimeoutError("not Ready in time: " + ", ".join(pending))
        if now - last_line > 2:
            report("waiting for " + ", ".join(pending))
            last_line = now
        await asyncio.sleep(0.2)
    return []


def describe(ksvc: dict[str, Any], gateway_port: int) -> str:
    md = ksvc["metadata"]
    url = (ksvc.get("status") or {}).get("url", "")
    host = url.split("://", 1)[-1]
    browser = f"{url}:{gateway_port}" if url else ""
    return (
        f"service {md['namespace']}/{md['name']} is Ready\n"
        f"    url:     {url}\n"
        f"    curl:    curl -H 'Host: {host}' http://127.0.0.1:{gateway_port}/\n"
        f"    browser: {browser}"
    )


async def up(args: argparse.Namespace) -> int:
    report = Reporter(args.log_format)
    state = (args.state_dir or default_state_dir()).resolve()
    state.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(state / "up.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        report(f"another kwake up is already running on {state}; stop it first or pass another --state-dir")
        return 1
    try:
        return await _up_locked(args, state, report)
    finally:
        os.close(lock_fd)


async def _up_locked(args: argparse.Namespace, state: Path, report: Reporter) -> int:
    left = await kill_leftovers(state / "components")
    if left:
        report(f"killed what a previous kwake up on {state} left running: {', '.join(left)}")
    if _port_in_use(args.gateway_port):
        report(f"port {args.gateway_port} on 127.0.0.1 is already in use; choose another with --gateway-port")
        return 1
    if args.api_port and _port_in_use(args.api_port):
        report(
            f"port {args.api_port} on 127.0.0.1 is already in use; choose another with --api-port (0: any)"
        )
        return 1
    try:
        manifests = load_manifests(args.files)
    except ManifestError as exc:
        report(f"cannot read manifests: {exc}")
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    supervisor = Supervisor(report, state / "components")
    logs = state / "logs"
    cluster_dir = state / "cluster"
    kubeconfig = cluster_dir / "kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    code = 0
    try:
        # One port for the life of this kwake up: a restarted localkube must come back where the
        # components' kubeconfig already points (with port 0 it would pick another free one).
        api_port = args.api_port or _free_port()
        localkube = Component(
            "localkube",
            kwake_argv("localkube", "--state-dir", str(cluster_dir), "--api-port", str(api_port)),
            logs / "localkube.log",
            stop_seconds=30,
        )
        report("starting localkube")
        await supervisor.start(localkube)
        await _wait_file(kubeconfig, 30, localkube)
        async with ApiClient(load_connection(kubeconfig, environ={})) as client:
            await client.wait_until_reachable(30)
            await bootstrap.install(client)
            autoscaler_port = _free_port()
            gateway_admin_port = _free_ports(args.gateway_workers, avoid=(args.gateway_port, autoscaler_port))
            components = [
                Component(
                    "operator", kwake_argv("operator", "--kubeconfig", str(kubeconfig)), logs / "operator.log"
                ),
                Component(
                    "autoscaler",
                    kwake_argv(
                        "autoscaler",
                        "--kubeconfig",
                        str(kubeconfig),
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(autoscaler_port),
                        # One autoscaler: a Lease would only make its successor after a crash
                        # wait out the dead one's lease (15 s without a scale written).
                        "--no-leader-elect",
                    ),
                    logs / "autoscaler.log",
                ),
                Component(
                    "gateway",
                    kwake_argv(
                        "gateway",
                        "--kubeconfig",
                        str(kubeconfig),
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(args.gateway_port),
                        "--autoscaler-url",
                        f"http://127.0.0.1:{autoscaler_port}",
                        "--access-log",
                        str(logs / "access.log"),
                        "--admin-port",
                        str(gateway_admin_port),
                        f"--queue-depth={args.gateway_queue_depth}",
                        f"--workers={args.gateway_workers}",
                    ),
                    logs / "gateway.log",
                    stop_seconds=35,
                ),
            ]
            for component in components:
                report(f"starting {component.name}")
                await supervisor.start(component)
            await _wait_port(autoscaler_port, 30, components[1])
            await _wait_port(args.gateway_port, 30, components[2])
            await _wait_webhooks(client, WEBHOOKS_SECONDS, components[0], report)
            services = await _apply_all(client, manifests, args.namespace, report)
            if services:
                try:
                    ready = await wait_ready(client, services, args.ready_timeout, report, stop)
                except TimeoutError as exc:
                    report(str(exc))
                    code = 1
                else:
                    for ksvc in ready:
                        report(describe(ksvc, args.gateway_port))
            report(f"kubectl: export KUBECONFIG={kubeconfig}")
            report(f"logs: {logs}")
            report(f"gateway metrics: http://127.0.0.1:{gateway_admin_port}/metrics")
            report("running; press Ctrl-C to stop")
            await stop.wait()
    except (ManifestError, RuntimeError, ApiError, OSError) as exc:
        report(f"error: {exc}")
        code = 1
    finally:
        report("stopping")
        await supervisor.stop_all()
        report("stopped")
    return code


async def _apply_one(
    client: ApiClient, resources: ResourceMap, manifest: Any, namespace: str, report: Reporter
) -> str | None:
    """Apply, retrying server-side failures for a while: on a state dir of an earlier run the
    API server may call the previous operator's admission webhook until the new one registers
    its own (500, failed calling webhook)."""
    deadline = time.monotonic() + APPLY_RETRY_SECONDS
    while True:
        try:
            return await apply(client, resources, manifest, namespace=namespace)
        except ManifestError as exc:
            cause = exc.__cause__
            if not (isinstance(cause, ApiError) and cause.status >= 500) or time.monotonic() > deadline:
                report(f"not applied: {exc}")
                return None
        await asyncio.sleep(0.5)


async def _apply_all(
    client: ApiClient, manifests: list[Any], namespace: str, report: Reporter
) -> list[tuple[str, str]]:
    resources = ResourceMap(client)
    services: list[tuple[str, str]] = []
    for manifest in manifests:
        outcome = await _apply_one(client, resources, manifest, namespace, report)
        if outcome is None:
            continue
        report(f"{manifest.kind.lower()}/{manifest.name} {outcome} ({manifest.source})")
        if manifest.kind == "Service" and str(manifest.body.get("apiVersion", "")).startswith(
            "serving.knative.dev/"
        ):
            services.append((manifest.namespace or namespace, manifest.name))
    return services


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(up(args))
    except KeyboardInterrupt:
        return 130
