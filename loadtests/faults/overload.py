"""What the gateway answers when a revision cannot serve: a routed revision that can no longer
start (504 at the deadline), and bursts beyond the queue, with pods or at zero (503 at once).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from loadtests.faults import access, scenario, stack
from loadtests.faults.tally import Tally, Trace
from loadtests.generator import Phase
from loadtests.kwake import KSVC, KwakeUp
from localkube.client import ApiClient, Resource


async def _conditions(client: ApiClient, resource: Resource, name: str) -> dict[str, dict[str, Any]]:
    body = await client.get(resource, name, "default")
    return {str(c.get("type")): c for c in (body.get("status") or {}).get("conditions") or []}


async def _why_not_ready(client: ApiClient, resource: Resource, name: str, within: float) -> dict[str, Any]:
    """The Ready condition of an object once it is False (or as it is after `within` seconds)."""
    deadline = time.monotonic() + within
    while True:
        ready = (await _conditions(client, resource, name)).get("Ready") or {}
        if ready.get("status") == "False" or time.monotonic() > deadline:
            return ready
        await asyncio.sleep(0.2)


async def _no_process(client: ApiClient, service: str, within: float) -> None:
    deadline = time.monotonic() + within
    while await stack.pod_processes(client, service):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{service}: its pods still run a process after {within:.0f}s")
        await asyncio.sleep(0.05)


def never_ready(size: scenario.Size, gate: Path) -> scenario.Scenario:
    """`gate`: a path of a file that does not exist yet (the scenario creates it, closing the gate)."""
    stuck, other = "stuck", "hello"
    manifests = (
        stack.service(other, annotations={scenario.MIN_SCALE: "1"}),
        stack.service(
            stuck,
            "loadtests.apps.gate",
            annotations={scenario.MIN_SCALE: "1", scenario.MAX_SCALE: "2"},
            env={"GATE_FILE": str(gate)},
            spec={"timeoutSeconds": size.deadline_s + 1, "responseStartTimeoutSeconds": size.deadline_s},
            container={"terminationMessagePolicy": "FallbackToLogsOnError"},
        ),
    )

    async def run(up: KwakeUp) -> Tally:
        async with scenario.client(up) as client:
            [pod] = await scenario.ready_pods(client, stuck, 1, 30)
            await asyncio.to_thread(gate.touch)
            stack.kill_group(pod.pid)
            # The restarted container exits at once: wait until no process of the revision runs.
            await _no_process(client, stuck, 15)
            trace, others = Trace(), Trace()
            phases = [Phase(min(size.seconds, 5.0), rate=size.rate / 2)]
            finished = await asyncio.gather(
                scenario.load(up, stuck, "/", phases, trace), scenario.load(up, other, "/", phases, others)
            )
            revision = await _why_not_ready(client, scenario.REVISIONS, f"{stuck}-00001", 15)
            ksvc = await _why_not_ready(client, KSVC, stuck, 10)
        tally = Tally.from_trace("never-ready", trace)
        tally.gateway_hwm_kib = scenario.gateway_hwm(up)
        tally.allowed = tally.sent  # nothing can answer these: each is owed a 504 at its deadline
        side = Tally.from_trace(other, others)
        waits = [o.done - intended for intended, o in trace.events if o.status == 504]
        tally.figures["504 latency min s"] = min(waits, default=float("nan"))
        tally.figures["504 latency max s"] = max(waits, default=float("nan"))
        tally.figures["response-start deadline s"] = size.deadline_s
        tally.figures["revision Ready"] = (
            f"{revision.get('status')} {revision.get('reason')}: {revision.get('message')}"
        )
        tally.figures["service Ready"] = f"{ksvc.get('status')} {ksvc.get('reason')}: {ksvc.get('message')}"
        tally.figures[f"other service ({other}) sent / 200"] = f"{side.sent} / {side.ok}"
        tally.check(all(finished), "a load did not finish in time")
        tally.check(tally.unanswered == 0 and side.unanswered == 0, "requests left unanswered")
        tally.check(tally.failed == {"504": tally.sent}, f"not every request got 504: {tally.failed}")
        tally.check(
            bool(waits) and min(waits) >= size.deadline_s - 0.05 and max(waits) <= size.deadline_s + 1.5,
            f"504s not at the {size.deadline_s}s deadline:"
            f" {min(waits, default=0):.2f}-{max(waits, default=0):.2f}s",
        )
        tally.check(side.ok == side.sent > 0, f"the other service failed: {side.failed}")
        tally.check(
            revision.get("status") == "False" and "gate closed" in str(revision.get("message")),
            f"the revision does not say why: {revision}",
        )
        tally.check(
            ksvc.get("status") == "False" and "gate closed" in str(ksvc.get("message")),
            f"the service does not say why: {ksvc}",
        )
        return tally

    return scenario.Scenario("never-ready", manifests, (other, stuck), (), run)


def burst(size: scenario.Size) -> scenario.Scenario:
    service = "slow"
    manifests = (
        stack.service(
            service,
            annotations={scenario.MIN_SCALE: "1", scenario.MAX_SCALE: "1"},
            spec={"containerConcurrency": 1},
        ),
    )
    args = ("--gateway-queue-depth", str(size.queue_depth))

    async def run(up: KwakeUp) -> Tally:
        async with scenario.client(up) as client:
            await scenario.ready_pods(client, service, 1, 30)
        gateway = stack.gateway_pid(up)
        before = stack.memory_kib(gateway)
        trace = Trace()
        finished = await scenario.load(
            up, service, "/?sleep=50", [Phase(0.5, burst=size.burst)], trace, max_connections=size.burst
        )
        after = stack.memory_kib(gateway)
        tally = Tally.from_trace("burst", trace)
        entries = access.read(up.access_log, scenario.host(service), tally.answered)
        tally.gateway_hwm_kib = after.get("VmHWM")
        shed = [o.done - intended for intended, o in trace.events if o.status == 503]
        served = [o.done - intended for intended, o in trace.events if o.status == 200]
        at_gateway = [e.duration for e in entries if e.status == 503]
        tally.allowed = len(shed)  # refused on purpose: beyond the bound
        tally.figures["burst"] = size.burst
        tally.figures["queue depth"] = size.queue_depth
        tally.figures["503 p50 ms (client, from the burst instant)"] = scenario.ms(shed, 0.5)
        tally.figures["503 p99 ms (client)"] = scenario.ms(shed, 0.99)
        tally.figures["503 max ms in the gateway"] = scenario.ms(at_gateway, 1.0)
        # The generator opens one connection per request of the burst: its own lateness in
        # starting them is part of the client-side figures above.
        tally.figures["generator start lag max ms"] = 1000.0 * trace.lag.max
        tally.figures["200 max ms (queued, then served)"] = scenario.ms(served, 1.0)
        tally.figures["gateway RSS before MiB"] = before.get("VmRSS", 0) / 1024
        tally.figures["gateway VmHWM after MiB"] = after.get("VmHWM", 0) / 1024
        tally.check(finished, "the load did not finish in time")
        tally.check(tally.unanswered == 0, f"{tally.unanswered} requests left unanswered")
        tally.check(set(tally.failed) <= {"503"}, f"failures other than 503: {tally.failed}")
        tally.check(bool(shed), "the burst never went beyond the queue (no 503)")
        tally.check(tally.ok > 0, "no request of the burst was served")
        tally.check(
            bool(at_gateway) and max(at_gateway) < 0.25,
            f"503s not at once in the gateway: max {scenario.ms(at_gateway, 1.0):.0f} ms",
        )
        growth = after.get("VmHWM", 0) - before.get("VmRSS", 0)
        tally.check(growth < 64 * 1024, f"gateway memory grew {growth / 1024:.0f} MiB in the burst")
        return tally

    return scenario.Scenario("burst", manifests, (service,), args, run)


def burst_at_zero(size: scenario.Size) -> scenario.Scenario:
    """The same burst at a revision with no pod (initial-scale 0): the gateway holds up to the
    queue bound for the cold start and answers the rest 503 at once."""
    service = "cold"
    manifests = (
        stack.config_map("config-autoscaler", {"allow-zero-initial-scale": "true"}),
        stack.service(service, annotations={scenario.INITIAL_SCALE: "0", scenario.MAX_SCALE: "1"}),
    )
    args = ("--gateway-queue-depth", str(size.queue_depth))

    async def run(up: KwakeUp) -> Tally:
        async with scenario.client(up) as client:
            pods = await stack.pod_processes(client, service)
        gateway = stack.gateway_pid(up)
        before = stack.memory_kib(gateway)
        trace = Trace()
        finished = await scenario.load(
            up, service, "/", [Phase(0.5, burst=size.burst)], trace, max_connections=size.burst
        )
        after = stack.memory_kib(gateway)
        tally = Tally.from_trace("burst-at-zero", trace)
        entries = access.read(up.access_log, scenario.host(service), tally.answered)
        tally.gateway_hwm_kib = after.get("VmHWM")
        served = [o.done - intended for intended, o in trace.events if o.status == 200]
        at_gateway = [e.duration for e in entries if e.status == 503]
        tally.allowed = tally.failed.get("503", 0)  # refused on purpose: beyond the bound
        tally.recover_s = max(served, default=None)  # the cold start, as the last queued request saw it
        tally.figures["pods before the burst"] = len(pods)
        tally.figures["burst"] = size.burst
        tally.figures["queue depth"] = size.queue_depth
        tally.figures["held for the cold start, then 200"] = len(served)
        tally.figures["503 max ms in the gateway"] = scenario.ms(at_gateway, 1.0)
        tally.figures["gateway RSS before MiB"] = before.get("VmRSS", 0) / 1024
        tally.figures["gateway VmHWM after MiB"] = after.get("VmHWM", 0) / 1024
        tally.check(not pods, f"{len(pods)} pods ran before the burst: not a cold start")
        tally.check(finished, "the load did not finish in time")
        tally.check(tally.unanswered == 0, f"{tally.unanswered} requests left unanswered")
        tally.check(set(tally.failed) <= {"503"}, f"failures other than 503: {tally.failed}")
        tally.check(bool(served), "no request held for the cold start was answered")
        tally.check("503" in tally.failed, "the burst never went beyond the queue (no 503)")
        tally.check(
            bool(at_gateway) and max(at_gateway) < 0.25,
            f"503s not at once in the gateway: max {scenario.ms(at_gateway, 1.0):.0f} ms",
        )
        return tally

    return scenario.Scenario("burst-at-zero", manifests, (service,), args, run)
