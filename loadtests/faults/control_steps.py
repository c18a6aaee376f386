"""What every control-plane fault scenario shares: its pace and plan, the load run beside the
fault, failures split by when they happened, and looks at the cluster and the components'
metrics (see `loadtests.faults.control_plane`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import aiohttp

from loadtests.faults import stack
from loadtests.faults.components import (
    MemoryWatch,
    component_pid,
    flag_value,
)
from loadtests.faults.tally import Tally, Trace, cause
from loadtests.generator import Outcome, Phase, Target, open_loop
from loadtests.kwake import KSVC, KwakeUp
from localkube.client import DEPLOYMENTS, ApiClient, Resource, load_connection

T = TypeVar("T")
REVISIONS = Resource("serving.knative.dev", "v1", "revisions", True, "Revision")
K8S_SERVICES = Resource("", "v1", "services", True, "Service")
REQUEST_TIMEOUT = 20.0
EPSILON = 0.05  # seconds: a request "at" a fault was sent within this of it
# The problem a restarted gateway shows while it answers before its routing table is synced.
ROUTES_NOT_REBUILT = "the restarted gateway answered before its routes were rebuilt"


@dataclass(frozen=True)
class Pace:
    """How hard and how long: steady `rate` req/s, `before` seconds ahead of the fault, `after`
    seconds of load once the component is back (each scenario adds a bounded budget between)."""

    rate: float
    before: float
    after: float


QUICK = Pace(rate=30.0, before=2.0, after=3.0)
FULL = Pace(rate=50.0, before=5.0, after=10.0)


@dataclass(frozen=True)
class Plan:
    """One scenario: what `kwake up` runs, and the run against it (returns the tally)."""

    name: str
    manifests: list[dict[str, Any]]
    ready: list[str]
    args: list[str]
    run: Callable[[KwakeUp], Coroutine[Any, Any, Tally]]


# ---------------------------------------------------------------------------------------------
# Shared steps.


@contextlib.asynccontextmanager
async def api(up: KwakeUp) -> AsyncIterator[ApiClient]:
    async with ApiClient(load_connection(up.kubeconfig, environ={})) as client:
        yield client


async def sleep_until(perf: float) -> None:
    await asyncio.sleep(max(0.0, perf - time.perf_counter()))


@dataclass(frozen=True)
class Loaded(Generic[T]):
    trace: Trace
    result: T
    resent: int  # GETs sent again on a new connection after their kept-alive one was closed


async def with_load(
    up: KwakeUp,
    phases: Sequence[Phase],
    fault: Callable[[Trace], Awaitable[T]],
    *,
    path: str = "/",
) -> Loaded[T]:
    """Run `fault(trace)` while the open-loop schedule runs; both finish before this returns
    (every request sent is answered or failed with a cause by then: each has a timeout)."""
    trace = Trace()
    target = Target.from_url(up.url, up.host, path=path, timeout=REQUEST_TIMEOUT)
    budget = int(sum(p.seconds * max(p.rate, p.rate_to or 0.0) + p.burst for p in phases)) + 10
    load = asyncio.create_task(
        open_loop(target, phases, trace, max_requests=budget, max_connections=256), name="fault-load"
    )
    try:
        result = await fault(trace)
    except BaseException:
        load.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await load
        raise
    client = await load
    return Loaded(trace, result, client.retries)


def outcomes(trace: Trace, start: float = float("-inf"), end: float = float("inf")) -> list[Outcome]:
    """Outcomes of the requests meant to be sent in [start, end) (perf_counter times)."""
    return [outcome for intended, outcome in trace.events if start <= intended < end]


def by_cause(items: Sequence[Outcome]) -> dict[str, int]:
    found: dict[str, int] = {}
    for outcome in items:
        why = cause(outcome)
        if why is not None:
            found[why] = found.get(why, 0) + 1
    return found


def split_failures(
    trace: Trace, start: float, end: float, allowed: frozenset[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Failures by cause: (those with an allowed cause that ended within [start, end], the rest).
    A request is judged by when it failed, not when it was meant to go: one scheduled just
    before a kill may connect just after it."""
    inside: dict[str, int] = {}
    outside: dict[str, int] = {}
    for _, outcome in trace.events:
        why = cause(outcome)
        if why is None:
            continue
        bucket = inside if why in allowed and start <= outcome.done <= end else outside
        bucket[why] = bucket.get(why, 0) + 1
    return inside, outside


def check_routes_rebuilt(tally: Tally, failures: dict[str, int]) -> None:
    """A 404 from a restarted gateway: it answered for a known host before its routing table
    was synced (removed from `failures`, a problem of its own)."""
    not_found = failures.pop("404", 0)
    tally.check(not_found == 0, f"{ROUTES_NOT_REBUILT}: {not_found} answered 404")


def first_ok_done(trace: Trace, sent_after: float) -> float | None:
    """When the first request sent at or after `sent_after` was answered 2xx/3xx."""
    done = [o.done for intended, o in trace.events if intended >= sent_after and cause(o) is None]
    return min(done) if done else None


def base_tally(name: str, trace: Trace, memory: MemoryWatch) -> Tally:
    tally = Tally.from_trace(name, trace)
    tally.gateway_hwm_kib = memory.hwm_kib.get("gateway")
    for component, kib in sorted(memory.hwm_kib.items()):
        if component != "gateway":
            tally.figures[f"{component} HWM MiB"] = round(kib / 1024, 1)
    tally.check(tally.unanswered == 0, f"{tally.unanswered} requests left unanswered")
    tally.check(tally.sent > 0, "no request was sent")
    return tally


async def gateway_metrics(up: KwakeUp) -> str | None:
    """The gateway's Prometheus text (None while it does not answer)."""
    pid = component_pid(up, "gateway")
    port = flag_value(pid, "--admin-port") if pid is not None else None
    if port is None:
        return None
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http,
            http.get(f"http://127.0.0.1:{port}/metrics") as response,
        ):
            return await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return None


async def autoscaler_gauges(up: KwakeUp, revision: str) -> dict[str, float]:
    """{metric: value} of the autoscaler's gauges for `revision` and its own unlabelled ones
    (`kwake_autoscaler_leader`, `kwake_autoscaler_status_writes_total` ...); empty if down."""
    pid = component_pid(up, "autoscaler")
    port = flag_value(pid, "--port") if pid is not None else None
    if port is None:
        return {}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http,
            http.get(f"http://127.0.0.1:{port}/metrics") as response,
        ):
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return {}
    found: dict[str, float] = {}
    for line in text.splitlines():
        mine = line.startswith("autoscaler_") and f'revision_name="{revision}"' in line
        if mine or (line.startswith("kwake_autoscaler_") and "{" not in line):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            with contextlib.suppress(ValueError):
                found[name] = float(line.rsplit(" ", 1)[1])
    return found


async def deployment_scale(client: ApiClient, name: str, namespace: str = "default") -> tuple[int, int]:
    """(spec.replicas, status.readyReplicas) of a Deployment; (-1, -1) while the API is away."""
    try:
        body = await client.get(DEPLOYMENTS, name, namespace)
    except (aiohttp.ClientError, OSError, TimeoutError):
        return -1, -1
    return int(body["spec"].get("replicas") or 0), int((body.get("status") or {}).get("readyReplicas") or 0)


def _ready_on(ksvc: Mapping[str, Any], revision: str) -> bool:
    status = ksvc.get("status") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
    )
    traffic = status.get("traffic") or []
    return (
        ready
        and status.get("observedGeneration") == ksvc["metadata"].get("generation")
        and status.get("latestReadyRevisionName") == revision
        and sum(int(t.get("percent") or 0) for t in traffic if t.get("revisionName") == revision) == 100
    )


async def wait_serving(client: ApiClient, service: str, revision: str, within: float) -> float:
    """perf_counter time at which `service` is Ready with all its traffic on `revision`."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            if _ready_on(await client.get(KSVC, service, "default"), revision):
                return time.perf_counter()
        await asyncio.sleep(0.05)
    raise TimeoutError(f"service {service} not Ready on {revision} within {within:.0f}s")


def _template_env_patch(value: str) -> dict[str, Any]:
    """A new template (so a new Revision): one env var changed on the hello container."""
    container = {
        "name": "user-container",
        "command": ["python3", "-m", "loadtests.apps.hello"],
        "env": [{"name": "FAULT_GENERATION", "value": value}],
    }
    return {"spec": {"template": {"spec": {"containers": [container]}}}}


def kubelet_starts(up: KwakeUp) -> int:
    """How many times localkube's kubelet got to running (its orphans are dealt with by then)."""
    log = (up.state / "logs" / "localkube.log").read_text(errors="replace")
    return log.count("running; HTTPS on")


def alive(pid: int) -> bool:
    return stack.proc_state(pid) not in (None, "Z")


def hello(name: str, annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    body = stack.service(name, annotations=annotations)
    body["spec"]["template"]["spec"]["containers"][0]["name"] = "user-container"
    return body
