"""Control-plane faults: kwake's own components killed and restarted under steady open-loop load.

    python -m loadtests.faults control [--quick] [--only NAME ...] [--markdown]

Each scenario starts its own `kwake up`, runs an open-loop load through the gateway, breaks one
component, and reports a `Tally` (sent, answered, failed by cause, unanswered, failures the fault
explains, time to recover, memory high-water marks of every component) with its own figures and
the problems found. The pytest suite (tests/reliability/test_control_plane_faults.py) runs the
same scenarios at the QUICK pace and asserts they pass.

Scenarios (`SCENARIOS`):
* gateway-kill: SIGKILL the only gateway; kwake up restarts it. Connections refused while it is
  down and requests in flight on it are the only allowed failures; the new one rebuilds its
  routing before it answers (no 404 or 503 after the restart).
* gateway-worker-kill: `--gateway-workers 2`, SIGKILL worker 1. The other keeps serving: only
  requests in flight on the killed worker may fail; the gateway starts the worker again.
* gateway-drain: SIGTERM the gateway while it holds requests buffered for a revision at zero
  whose pod starts slowly: every buffered request is answered 200 before it exits.
* autoscaler-restart: SIGKILL the autoscaler while a revision runs several pods; the Deployment
  keeps its scale (the restarted KPA starts in panic over the ready pods, as Knative's does) and
  decisions resume.
* autoscaler-cold-start: the first requests for a revision at zero arrive while the autoscaler
  is down (the gateway's poke is refused); all are answered 200 once the restarted one scales up.
* operator-restart: SIGKILL the operator right after an update created the new Revision; no
  duplicate Revision, no orphaned Deployment, Ready on the new Revision within seconds.
* localkube-restart: SIGKILL localkube (API server, controllers, kubelet); the gateway keeps
  serving from what it knows; the new kubelet adopts the pod processes the old one left (same
  pids, no restart); a change made afterwards reaches every component.
* up-crash: SIGKILL `kwake up` itself (its components live on, orphaned) and start it again on
  the same state dir: it kills them, its kubelet adopts the pods, service is back in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import aiohttp

from loadtests.faults import stack
from loadtests.faults.components import (
    MemoryWatch,
    component_pid,
    component_pids,
    flag_value,
    gateway_workers,
    kill,
    wait_port,
    wait_restarted,
)
from loadtests.faults.tally import Tally, Trace, cause, markdown, render
from loadtests.generator import Outcome, Phase, Target, open_loop
from loadtests.kwake import KSVC, PODAUTOSCALERS, ROOT, KwakeUp, parse_queue_depth
from localkube.client import DEPLOYMENTS, PODS, ApiClient, ApiError, Resource, load_connection
from serving.api import keys

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


# ---------------------------------------------------------------------------------------------
# Scenarios.


def gateway_kill(pace: Pace) -> Plan:
    """Requests take 100 ms at the pod, so some are in flight on the gateway when it dies."""

    async def run(up: KwakeUp) -> Tally:
        async with MemoryWatch(up) as memory:

            async def fault(trace: Trace) -> tuple[float, float, float]:
                await sleep_until(trace.start + pace.before)
                old = component_pid(up, "gateway")
                assert old is not None, "no gateway running"
                kill(old)
                killed = time.perf_counter()
                _, restarted = await wait_restarted(up, "gateway", old, 30)
                listening = await wait_port(up.port, 30)
                return killed, restarted, listening

            phases = [Phase(pace.before + 3.0 + pace.after, pace.rate)]
            loaded = await with_load(up, phases, fault, path="/?sleep=100")
            trace, (killed, restarted, listening) = loaded.trace, loaded.result
        tally = base_tally("gateway SIGKILL (one process)", trace, memory)
        recovered = first_ok_done(trace, killed)
        tally.recover_s = None if recovered is None else recovered - killed
        down, other = split_failures(trace, killed, listening + EPSILON, frozenset({"reset", "connect"}))
        tally.allowed = sum(down.values())
        tally.figures.update(
            {
                # In flight on the dead gateway: reset, or (a GET on a kept-alive connection)
                # sent again by the generator as a browser would, and then refused.
                "in flight at the kill, failed": sum(by_cause(outcomes(trace, end=killed)).values()),
                "sent after the kill, refused": sum(by_cause(outcomes(trace, killed)).values()),
                "restart s": restarted - killed,
                "listening again s": listening - killed,
            }
        )
        check_routes_rebuilt(tally, other)
        tally.check(other == {}, f"failures the kill does not explain: {other}")
        tally.check(recovered is not None and recovered - killed < 10, "no 200 within 10 s of the kill")
        return tally

    return Plan("gateway-kill", [hello("hello")], ["hello"], [], run)


def gateway_worker_kill(pace: Pace) -> Plan:
    """Requests take 100 ms at the pod, so some are in flight on the killed worker."""

    async def run(up: KwakeUp) -> Tally:
        async with MemoryWatch(up) as memory:

            async def fault(trace: Trace) -> tuple[float, float, int]:
                await sleep_until(trace.start + pace.before)
                gateway = component_pid(up, "gateway")
                assert gateway is not None, "no gateway running"
                workers = gateway_workers(gateway)
                assert len(workers) == 2, f"expected 2 gateway workers, found {workers}"
                kill(workers[1])
                killed = time.perf_counter()
                back = float("nan")
                while time.perf_counter() < killed + pace.after + 1.0:
                    again = gateway_workers(gateway).get(1)
                    if math.isnan(back) and again is not None and again != workers[1]:
                        back = time.perf_counter() - killed
                    await asyncio.sleep(0.02)
                return killed, back, len(gateway_workers(gateway))

            phases = [Phase(pace.before + pace.after + 1.0, pace.rate)]
            loaded = await with_load(up, phases, fault, path="/?sleep=100")
            trace, (killed, back, alive) = loaded.trace, loaded.result
        tally = base_tally("gateway worker SIGKILL (1 of 2)", trace, memory)
        at_kill, other = split_failures(trace, killed, killed + 0.5, frozenset({"reset", "502", "connect"}))
        tally.allowed = sum(at_kill.values())
        recovered = first_ok_done(trace, killed)
        tally.recover_s = None if recovered is None else max(0.0, recovered - killed)
        tally.figures.update(
            {
                "in flight at the kill, failed": sum(by_cause(outcomes(trace, end=killed)).values()),
                "sent after the kill, failed": sum(by_cause(outcomes(trace, killed)).values()),
                "worker started again s": back,
                "workers alive after": alive,
                "resent on closed keep-alive": loaded.resent,
            }
        )
        check_routes_rebuilt(tally, other)
        tally.check(other == {}, f"failures the kill does not explain (surviving worker?): {other}")
        tally.check(
            sum(by_cause(outcomes(trace, killed)).values()) == 0,
            "a request sent after the kill failed: the surviving worker should have taken it",
        )
        return tally

    return Plan("gateway-worker-kill", [hello("hello")], ["hello"], ["--gateway-workers", "2"], run)


def gateway_drain(pace: Pace, buffered: int = 20, start_delay: float = 3.0) -> Plan:
    """The revision starts at zero (initial-scale 0) and its pod takes `start_delay` s to listen."""
    service = hello(
        "slow",
        {
            "autoscaling.knative.dev/initial-scale": "0",
            "autoscaling.knative.dev/min-scale": "0",
        },
    )
    service["spec"]["template"]["spec"]["containers"][0]["command"] = [
        "sh",
        "-c",
        f"sleep {start_delay} && exec python3 -m loadtests.apps.hello",
    ]
    config = stack.config_map("config-autoscaler", {"allow-zero-initial-scale": "true"})

    async def run(up: KwakeUp) -> Tally:
        async with MemoryWatch(up) as memory, api(up) as client:

            async def fault(trace: Trace) -> tuple[float, float, float, float]:
                deadline = time.perf_counter() + 5.0
                depth = 0.0
                while time.perf_counter() < deadline:  # the burst is queued for the cold start
                    text = await gateway_metrics(up)
                    depth = sum(parse_queue_depth(text or "").values())
                    if depth >= buffered:
                        break
                    await asyncio.sleep(0.05)
                old = component_pid(up, "gateway")
                assert old is not None, "no gateway running"
                kill(old, signal.SIGTERM)
                stopped = time.perf_counter()
                _, restarted = await wait_restarted(up, "gateway", old, 60)
                listening = await wait_port(up.port, 30)
                return stopped, restarted, listening, depth

            # The burst at once, then a steady trickle that meets the stopped gateway.
            phases = [Phase(start_delay + 6.0 + pace.after, pace.rate / 3, burst=buffered)]
            loaded = await with_load(up, phases, fault)
            trace, (stopped, restarted, listening, depth) = loaded.trace, loaded.result
            pods = await client.list(PODS, "default", label_selector=f"{keys.SERVICE_LABEL}=slow")
        tally = base_tally("gateway SIGTERM holding buffered requests", trace, memory)
        before = outcomes(trace, end=stopped)
        down, other = split_failures(trace, stopped, listening + EPSILON, frozenset({"connect"}))
        tally.allowed = sum(down.values())
        recovered = first_ok_done(trace, stopped)
        tally.recover_s = None if recovered is None else recovered - stopped
        tally.figures.update(
            {
                "queued at SIGTERM": int(depth),
                "answered of those sent before SIGTERM": sum(1 for o in before if cause(o) is None),
                "sent before SIGTERM": len(before),
                "drain s (SIGTERM to exit)": restarted - stopped,
                "refused while stopped": down.get("connect", 0),
                "pods": len(pods["items"]),
            }
        )
        tally.check(depth >= buffered, f"only {depth:.0f} of {buffered} requests were queued at SIGTERM")
        tally.check(by_cause(before) == {}, f"buffered requests failed: {by_cause(before)}")
        check_routes_rebuilt(tally, other)
        tally.check(other == {}, f"failures the stop does not explain: {other}")
        return tally

    # The ConfigMap first: the webhook refuses initial-scale 0 until the cluster allows it.
    return Plan("gateway-drain", [config, service], ["slow"], [], run)


def autoscaler_restart(pace: Pace, hold: float = 4.0) -> Plan:
    """~3 pods: concurrency 3 (100 ms requests at 30/s) over a target of 2 per pod (70 %)."""
    service = hello("hello", {"autoscaling.knative.dev/target": "2"})
    config = stack.config_map(
        "config-autoscaler", {"stable-window": "10s", "scale-to-zero-grace-period": "1s"}
    )
    revision, deployment = "hello-00001", "hello-00001-deployment"
    settle_limit = 8.0

    async def run(up: KwakeUp) -> Tally:
        async with MemoryWatch(up) as memory, api(up) as client:

            async def fault(trace: Trace) -> dict[str, float]:
                await sleep_until(trace.start + pace.before)
                deadline = trace.start + settle_limit
                replicas, ready = await deployment_scale(client, deployment)
                while time.perf_counter() < deadline and not (ready >= 2 and replicas == ready):
                    await asyncio.sleep(0.1)
                    replicas, ready = await deployment_scale(client, deployment)
                old = component_pid(up, "autoscaler")
                assert old is not None, "no autoscaler running"
                kill(old)
                killed = time.perf_counter()
                _, restarted = await wait_restarted(up, "autoscaler", old, 30)
                lowest, first_decision, panic = replicas, float("nan"), float("nan")
                leading, first_write = float("nan"), float("nan")
                while time.perf_counter() < restarted + hold:
                    now_replicas, _ = await deployment_scale(client, deployment)
                    lowest = min(lowest, now_replicas) if now_replicas >= 0 else lowest
                    gauges = await autoscaler_gauges(up, revision)
                    if gauges.get("autoscaler_desired_pods", -1) >= 1 and math.isnan(first_decision):
                        first_decision = time.perf_counter() - restarted
                    if "autoscaler_panic_mode" in gauges and math.isnan(panic):
                        panic = gauges["autoscaler_panic_mode"]
                    if gauges.get("kwake_autoscaler_leader") == 1 and math.isnan(leading):
                        leading = time.perf_counter() - restarted
                    if gauges.get("kwake_autoscaler_status_writes_total", 0) > 0 and math.isnan(first_write):
                        first_write = time.perf_counter() - restarted
                    await asyncio.sleep(0.1)
                return {
                    "replicas at kill": replicas,
                    "ready at kill": ready,
                    "lowest replicas until restart + hold": lowest,
                    "restart s": restarted - killed,
                    "first decision after restart s": first_decision,
                    "panic after restart": panic,
                    "leading after restart s": leading,
                    "first status write after restart s": first_write,
                    "killed": killed,
                }

            phases = [Phase(settle_limit + hold + 3.0, pace.rate)]
            loaded = await with_load(up, phases, fault, path="/?sleep=100")
            trace, seen = loaded.trace, loaded.result
        tally = base_tally("autoscaler SIGKILL", trace, memory)
        del seen["killed"]
        tally.figures.update(seen)
        decided = seen["first decision after restart s"]
        tally.recover_s = seen["restart s"] + (0.0 if math.isnan(decided) else decided)
        tally.check(tally.failures == 0, f"requests failed: {tally.failed}")
        tally.check(seen["ready at kill"] >= 2, "the revision never ran 2 pods before the kill")
        tally.check(
            seen["lowest replicas until restart + hold"] >= seen["ready at kill"],
            "the Deployment was scaled below its ready pods after the restart",
        )
        tally.check(not math.isnan(decided), f"no decision within {hold}s of the restart")
        tally.check(
            not math.isnan(seen["first status write after restart s"]),
            f"no decision written within {hold}s of the restart",
        )
        tally.check(seen["panic after restart"] == 1.0, "the restarted KPA did not start in panic")
        return tally

    return Plan("autoscaler-restart", [service, config], ["hello"], [], run)


def autoscaler_cold_start(pace: Pace, burst: int = 10, within: float = 15.0) -> Plan:
    """A revision at zero (initial-scale 0) gets its first requests while the autoscaler is
    down: the gateway's poke is refused, so the scale-up must come from the restarted one."""
    service = hello("cold", {"autoscaling.knative.dev/initial-scale": "0"})
    config = stack.config_map("config-autoscaler", {"allow-zero-initial-scale": "true"})

    async def run(up: KwakeUp) -> Tally:
        async with MemoryWatch(up) as memory, api(up) as client:
            old = component_pid(up, "autoscaler")
            assert old is not None, "no autoscaler running"
            kill(old)
            killed = time.perf_counter()

            async def fault(trace: Trace) -> float:
                new, _ = await wait_restarted(up, "autoscaler", old, 30)
                listening = await wait_port(int(flag_value(new, "--port") or 0), 30)
                await sleep_until(trace.start + within)
                return listening

            # The burst goes out at once (the autoscaler is still down), then a trickle.
            phases = [Phase(within + pace.after, pace.rate / 3, burst=burst)]
            loaded = await with_load(up, phases, fault)
            trace, listening = loaded.trace, loaded.result
            pods = await stack.pod_processes(client, "cold")
        tally = base_tally("autoscaler down at a cold start", trace, memory)
        first = [(i, o) for i, o in trace.events if i <= trace.start + 1e-6]  # the burst, at t=0
        first_ok = [o.done for _, o in first if cause(o) is None]
        tally.recover_s = (max(first_ok) - killed) if first_ok and len(first_ok) == len(first) else None
        tally.figures.update(
            {
                "sent while the autoscaler was down": sum(1 for i, _ in trace.events if i < listening),
                "autoscaler listening again s": listening - killed,
                "first requests (burst at t=0)": len(first),
                "of those answered 200": len(first_ok),
                "slowest of the burst s": max((o.done - i for i, o in first), default=0.0),
                "pods after": len(pods),
            }
        )
        tally.check(tally.failures == 0, f"requests failed: {tally.failed}")
        tally.check(len(first) >= burst, f"the burst was {len(first)} requests, not {burst}")
        tally.check(
            len(first_ok) == len(first), f"{len(first_ok)} of the {len(first)} first requests got 200"
        )
        return tally

    return Plan("autoscaler-cold-start", [config, service], ["cold"], [], run)


async def _until_a_write_is_admitted(client: ApiClient, deadline: float) -> tuple[int, float]:
    """Write an annotation on the Service every 50 ms until one is admitted: (refused, when)."""
    refused = 0
    while time.perf_counter() < deadline:
        patch = {"metadata": {"annotations": {"faults.kwake.dev/probe": str(refused)}}}
        try:
            await client.patch(KSVC, "hello", patch, "default")
        except ApiError:
            refused += 1
            await asyncio.sleep(0.05)
            continue
        return refused, time.perf_counter()
    raise TimeoutError(f"no Service write admitted ({refused} refused)")


def operator_restart(pace: Pace, converge_within: float = 20.0) -> Plan:
    async def run(up: KwakeUp) -> Tally:
        async with MemoryWatch(up) as memory, api(up) as client:

            async def fault(trace: Trace) -> tuple[float, float, float, int, float]:
                await sleep_until(trace.start + pace.before)
                await client.patch(KSVC, "hello", _template_env_patch("2"), "default")
                patched = time.perf_counter()
                while await client.get_or_none(REVISIONS, "hello-00002", "default") is None:
                    if time.perf_counter() - patched > 10:
                        raise TimeoutError("no hello-00002 within 10 s of the update")
                    await asyncio.sleep(0.005)
                old = component_pid(up, "operator")
                assert old is not None, "no operator running"
                kill(old)
                killed = time.perf_counter()
                # The operator serves the admission webhooks: until a new one registers, every
                # write of a Service is refused (failurePolicy Fail, as Knative's).
                refused, accepted = await _until_a_write_is_admitted(client, killed + converge_within)
                await wait_restarted(up, "operator", old, 30)
                serving = await wait_serving(client, "hello", "hello-00002", converge_within)
                return patched, killed, serving, refused, accepted - killed

            phases = [Phase(pace.before + converge_within / 2 + pace.after, pace.rate)]
            loaded = await with_load(up, phases, fault)
            trace, (patched, killed, serving, refused, admitted_after) = loaded.trace, loaded.result
            revisions = (await client.list(REVISIONS, "default"))["items"]
            deployments = (await client.list(DEPLOYMENTS, "default"))["items"]
            autoscalers = (await client.list(PODAUTOSCALERS, "default"))["items"]
            services = (await client.list(K8S_SERVICES, "default"))["items"]
        tally = base_tally("operator SIGKILL mid-reconcile", trace, memory)
        tally.recover_s = serving - killed
        names = sorted(r["metadata"]["name"] for r in revisions)
        uids = {r["metadata"]["uid"] for r in revisions}

        def owned(objects: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
            """(names controlled by a live Revision, names that are not)"""
            good: list[str] = []
            orphans: list[str] = []
            for obj in objects:
                refs = obj["metadata"].get("ownerReferences") or []
                mine = [r for r in refs if r.get("kind") == "Revision" and r.get("controller")]
                (good if mine and mine[0]["uid"] in uids else orphans).append(obj["metadata"]["name"])
            return good, orphans

        deploy_ok, deploy_orphans = owned(deployments)
        pa_ok, pa_orphans = owned(autoscalers)
        revision_services = [
            s for s in services if (s["metadata"].get("labels") or {}).get(keys.REVISION_LABEL)
        ]
        svc_orphans = owned(revision_services)[1]
        tally.figures.update(
            {
                "revisions": ", ".join(names),
                "deployments": len(deployments),
                "orphaned deployments": len(deploy_orphans),
                "update to kill s": killed - patched,
                "Service writes refused while the webhook was down": refused,
                "first Service write admitted after kill s": admitted_after,
                "update to serving s": serving - patched,
            }
        )
        tally.check(names == ["hello-00001", "hello-00002"], f"revisions after the restart: {names}")
        tally.check(
            len(deploy_ok) == 2 and not deploy_orphans, f"deployments: {deploy_ok} orphans {deploy_orphans}"
        )
        tally.check(len(pa_ok) == 2 and not pa_orphans, f"podautoscalers: {pa_ok} orphans {pa_orphans}")
        tally.check(not svc_orphans, f"revision Services not owned by a live Revision: {svc_orphans}")
        tally.check(tally.failures == 0, f"requests failed: {tally.failed}")
        return tally

    return Plan("operator-restart", [hello("hello")], ["hello"], [], run)


def localkube_restart(pace: Pace, converge_within: float = 25.0) -> Plan:
    async def run(up: KwakeUp) -> Tally:
        async with MemoryWatch(up) as memory, api(up) as client:

            async def fault(trace: Trace) -> dict[str, Any]:
                await sleep_until(trace.start + pace.before)
                before = await stack.pod_processes(client, "hello")
                old = component_pid(up, "localkube")
                assert old is not None, "no localkube running"
                kill(old)
                killed = time.perf_counter()
                _, restarted = await wait_restarted(up, "localkube", old, 30)
                await client.wait_until_reachable(30)
                reachable = time.perf_counter()
                deadline = reachable + converge_within
                while time.perf_counter() < deadline:  # the new kubelet has dealt with orphans
                    if kubelet_starts(up) >= 2:
                        break
                    await asyncio.sleep(0.05)
                after: list[stack.PodProcess] = []
                while time.perf_counter() < deadline:
                    # Until the new kubelet reports them, pod statuses still name the old pids.
                    with contextlib.suppress(aiohttp.ClientError, OSError):
                        after = await stack.pod_processes(client, "hello")
                        if after and all(p.ready and alive(p.pid) for p in after):
                            break
                    await asyncio.sleep(0.05)
                pods_ready = time.perf_counter()
                # A change made after the restart reaches the operator, kubelet and gateway.
                await client.patch(KSVC, "hello", _template_env_patch("2"), "default")
                changed = time.perf_counter()
                serving = await wait_serving(client, "hello", "hello-00002", converge_within)
                return {
                    "before": before,
                    "after": after,
                    "killed": killed,
                    "restarted": restarted,
                    "reachable": reachable,
                    "pods_ready": pods_ready,
                    "changed": changed,
                    "serving": serving,
                }

            phases = [Phase(pace.before + 10.0 + pace.after, pace.rate)]
            loaded = await with_load(up, phases, fault)
            trace, seen = loaded.trace, loaded.result
        tally = base_tally("localkube SIGKILL", trace, memory)
        killed: float = seen["killed"]
        before: list[stack.PodProcess] = seen["before"]
        after: list[stack.PodProcess] = seen["after"]
        old_pids = {p.pid for p in before}
        adopted = sorted(p.pid for p in after if p.pid in old_pids)
        still_alive = sorted(pid for pid in old_pids if alive(pid))
        recovered = seen["pods_ready"]
        tally.recover_s = recovered - killed
        failed_at = [intended for intended, o in trace.events if cause(o) is not None]
        tally.allowed = 0
        log = (up.state / "logs" / "localkube.log").read_text(errors="replace")
        orphans = re.findall(r"killed (\d+) orphaned container process group", log)
        slowest = max((o.done - i for i, o in trace.events if i >= killed - 1.0), default=0.0)
        tally.figures.update(
            {
                "pods before": len(before),
                "orphan pod groups killed by the new kubelet": sum(int(n) for n in orphans),
                "slowest request around the restart s": slowest,
                "pods adopted (same pid)": len(adopted),
                "old pod processes alive, not adopted": len(set(still_alive) - set(adopted)),
                "API back s": seen["reachable"] - killed,
                "pods ready again s": seen["pods_ready"] - killed,
                "update after restart to serving s": seen["serving"] - seen["changed"],
                "failures first/last s after kill": (
                    f"{min(failed_at) - killed:.2f}/{max(failed_at) - killed:.2f}" if failed_at else "-"
                ),
            }
        )
        tally.check(set(still_alive) <= set(adopted), f"orphans: {sorted(set(still_alive) - set(adopted))}")
        tally.check(len(adopted) == len(before), f"adopted {len(adopted)} of {len(before)} pods")
        tally.check(len(after) == len({p.name for p in after}), f"a pod runs more than one process: {after}")
        tally.check(tally.failures == 0, f"requests failed: {tally.failed}")
        return tally

    service = hello("hello", {"autoscaling.knative.dev/min-scale": "2"})
    return Plan("localkube-restart", [service], ["hello"], [], run)


def restart_up(up: KwakeUp, args: Sequence[str]) -> subprocess.Popen[bytes]:
    """A new `kwake up` on the same manifests, state dir and gateway port as `up` (whose own
    process is gone); `up.process` becomes the new one, so `up.stop()` stops it."""
    output = up.output.with_name("up-again.log")
    manifest = up.state.parent / "manifests.yaml"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "serving.cli.main", "up", "-f", str(manifest),
             "--state-dir", str(up.state), "--gateway-port", str(up.port), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, stack.MARK: str(up.state)},
        )  # fmt: skip
    up.process, up.output = process, output
    return process


def up_crash(pace: Pace, ready_within: float = 30.0) -> Plan:
    """SIGKILL `kwake up` itself (its components live on, orphaned), then start it again."""
    service = hello("hello", {"autoscaling.knative.dev/min-scale": "2"})

    async def run(up: KwakeUp) -> Tally:
        async with MemoryWatch(up) as memory, api(up) as client:
            before = await stack.pod_processes(client, "hello")
            old_components = set(component_pids(up).values())

            async def fault(trace: Trace) -> dict[str, Any]:
                await sleep_until(trace.start + pace.before)
                up.process.kill()
                up.process.wait()
                killed = time.perf_counter()
                await asyncio.sleep(0.5)  # the orphaned gateway serves on meanwhile
                restart_up(up, [])
                started = time.perf_counter()
                deadline = started + ready_within
                text = ""
                while time.perf_counter() < deadline and "service default/hello is Ready" not in text:
                    text = up.output.read_text(errors="replace")
                    if up.process.poll() is not None:
                        raise RuntimeError(f"kwake up exited again:\n{text[-2000:]}")
                    await asyncio.sleep(0.1)
                ready = time.perf_counter()
                listening = await wait_port(up.port, 5)
                return {
                    "killed": killed,
                    "started": started,
                    "ready": ready,
                    "listening": listening,
                    "log": text,
                }

            phases = [Phase(pace.before + 0.5 + ready_within / 2 + pace.after, pace.rate)]
            loaded = await with_load(up, phases, fault)
            trace, seen = loaded.trace, loaded.result
        async with api(up) as again:  # the new kwake up's API server has a port of its own
            after = await stack.pod_processes(again, "hello")
        tally = base_tally("kwake up SIGKILL, started again", trace, memory)
        killed, started = seen["killed"], seen["started"]
        down, other = split_failures(
            trace, started, seen["listening"] + EPSILON, frozenset({"reset", "connect"})
        )
        tally.allowed = sum(down.values())
        failed_at = [o.done for _, o in trace.events if cause(o) is not None]
        recovered = first_ok_done(trace, max(failed_at, default=killed))
        tally.recover_s = None if recovered is None else recovered - killed
        left_line = next((line for line in seen["log"].splitlines() if "left running: " in line), "")
        adopted = {p.pid for p in after} & {p.pid for p in before}
        leftovers = sorted(pid for pid in old_components if alive(pid))
        tally.figures.update(
            {
                "old components killed by the new kwake up": left_line.split("left running: ")[-1] or "-",
                "served by the orphaned gateway meanwhile": sum(
                    1 for i, o in trace.events if killed <= i < started and cause(o) is None
                ),
                "refused or cut while the new kwake up started": sum(down.values()),
                "new kwake up Ready s": seen["ready"] - started,
                "pods before": len(before),
                "pods adopted (same pid)": len(adopted),
            }
        )
        check_routes_rebuilt(tally, other)
        tally.check(other == {}, f"failures the restart does not explain: {other}")
        tally.check(
            "service default/hello is Ready" in seen["log"],
            f"the new kwake up not Ready within {ready_within:.0f}s: {seen['log'][-1500:]}",
        )
        tally.check(leftovers == [], f"components of the crashed kwake up still running: {leftovers}")
        tally.check(len(adopted) == len(before), f"adopted {len(adopted)} of {len(before)} pods")
        return tally

    return Plan("up-crash", [service], ["hello"], [], run)


SCENARIOS: dict[str, Callable[[Pace], Plan]] = {
    "gateway-kill": gateway_kill,
    "gateway-worker-kill": gateway_worker_kill,
    "gateway-drain": gateway_drain,
    "autoscaler-restart": autoscaler_restart,
    "autoscaler-cold-start": autoscaler_cold_start,
    "operator-restart": operator_restart,
    "localkube-restart": localkube_restart,
    "up-crash": up_crash,
}


# ---------------------------------------------------------------------------------------------
# Running.


def run_plan(plan: Plan) -> tuple[Tally, list[str]]:
    """Start kwake up for `plan`, run it, stop everything; (tally, processes left behind)."""
    up = stack.start(plan.manifests, plan.ready, args=plan.args)
    try:
        tally = asyncio.run(plan.run(up))
    finally:
        up.stop()
    return tally, stack.wait_no_processes(up)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.faults control", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="the test suite's pace (30 req/s, short)")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="run only these")
    parser.add_argument("--markdown", action="store_true", help="also print one Markdown table")
    args = parser.parse_args(argv)
    pace = QUICK if args.quick else FULL
    tallies: list[Tally] = []
    for name in args.only or list(SCENARIOS):
        plan = SCENARIOS[name](pace)
        print(f"== {name} ({pace.rate:.0f} req/s)", flush=True)
        try:
            tally, left = run_plan(plan)
        except (RuntimeError, TimeoutError, AssertionError, OSError) as error:
            tally, left = Tally(name), []
            tally.problems.append(f"did not run: {type(error).__name__}: {str(error)[-400:]}")
        if left:
            tally.problems.append(f"processes left after kwake up stopped: {left}")
        tallies.append(tally)
        print(render(tally), flush=True)
    if args.markdown:
        print(markdown(tallies))
    return 0 if all(t.passed for t in tallies) else 1
