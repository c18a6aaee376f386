"""What a data-path fault scenario is made of, and the steps every scenario shares.

A `Scenario` is the manifests and `kwake up` options it needs plus a coroutine that runs it
against that `kwake up` and returns its `Tally`. `Size` holds the load's sizes (`QUICK` for the
pytest suite, `FULL` for the benchmark). The helpers drive the load (`load`: GETs through the
generator's open loop, or POSTs), wait for pods, and read the gateway's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from loadtests.faults import posts, stack
from loadtests.faults.stack import PodProcess
from loadtests.faults.tally import Tally, Trace
from loadtests.generator import Phase, Target, open_loop
from loadtests.kwake import KwakeUp
from localkube.client import ApiClient, Resource, load_connection

REVISIONS = Resource("serving.knative.dev", "v1", "revisions", True, "Revision")
MIN_SCALE = "autoscaling.knative.dev/min-scale"
MAX_SCALE = "autoscaling.knative.dev/max-scale"
INITIAL_SCALE = "autoscaling.knative.dev/initial-scale"
# A request the gateway saw start this long after the kill did not meet the killed process.
SLACK_S = 0.05


@dataclass(frozen=True)
class Size:
    rate: float  # req/s of the steady load
    seconds: float  # its length
    fault_at: float  # seconds into the load
    sleep_ms: int  # how long the app holds each request, so that some are in flight at the fault
    deadline_s: int  # never-ready: the revision's responseStartTimeoutSeconds
    burst: int  # burst: requests sent at one instant
    queue_depth: int  # burst: the gateway's per-revision queue bound


QUICK = Size(rate=40, seconds=5, fault_at=1.5, sleep_ms=200, deadline_s=2, burst=400, queue_depth=20)
FULL = Size(rate=100, seconds=20, fault_at=5, sleep_ms=200, deadline_s=2, burst=3000, queue_depth=50)


@dataclass(frozen=True)
class Scenario:
    name: str
    manifests: tuple[dict[str, Any], ...]
    ready: tuple[str, ...]
    args: tuple[str, ...]
    run: Callable[[KwakeUp], Coroutine[Any, Any, Tally]]


def host(service: str) -> str:
    return f"{service}.default.localhost"


@contextlib.asynccontextmanager
async def client(up: KwakeUp) -> AsyncIterator[ApiClient]:
    async with ApiClient(load_connection(up.kubeconfig, environ={})) as api:
        yield api


async def load(
    up: KwakeUp,
    service: str,
    path: str,
    phases: Sequence[Phase],
    trace: Trace,
    *,
    max_connections: int = 1000,
    post: bool = False,
) -> bool:
    """Run the open loop (GETs, or POSTs with a body) to its end; False if it had to be cut
    short (requests still pending)."""
    target = Target("127.0.0.1", up.port, host(service), path, timeout=30.0)
    bound = sum(p.seconds for p in phases) + target.timeout + 15.0
    try:
        async with asyncio.timeout(bound):
            if post:
                await posts.post_loop(posts.PostClient(target, max_connections), phases, trace)
            else:
                await open_loop(target, phases, trace, max_connections=max_connections)
    except TimeoutError:
        return False
    return True


async def at(trace: Trace, offset: float) -> None:
    await asyncio.sleep(max(0.0, trace.start + offset - time.perf_counter()))


async def ready_pods(client: ApiClient, service: str, count: int, within: float) -> list[PodProcess]:
    deadline = time.monotonic() + within
    while True:
        pods = [p for p in await stack.pod_processes(client, service) if p.ready]
        if len(pods) >= count:
            return sorted(pods, key=lambda p: p.name)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{service}: {len(pods)} of {count} pods ready after {within:.0f}s")
        await asyncio.sleep(0.1)


async def replaced(
    client: ApiClient, service: str, pods: Sequence[PodProcess], killed: Sequence[PodProcess], within: float
) -> float | None:
    """Seconds until the Service has as many ready pods as before (`pods`), none running a killed
    process (None if not within `within`). Usually the kubelet restarts each killed container in
    its pod; when every pod died, the revision may also lose a pod and get a new one: while no pod
    is available its Revision is ContainerHealthy=False (the exit code), so unreachable, and
    min-scale does not hold, as in Knative."""
    started = time.monotonic()
    dead = {k.pid for k in killed}
    while time.monotonic() - started < within:
        now = [p for p in await stack.pod_processes(client, service) if p.ready]
        if len(now) >= len(pods) and not dead & {p.pid for p in now}:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    return None


def gateway_hwm(up: KwakeUp) -> int | None:
    try:
        return stack.memory_kib(stack.gateway_pid(up)).get("VmHWM")
    except LookupError:
        return None


def ms(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return 1000.0 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]
