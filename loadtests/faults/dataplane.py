"""Data-path faults under a steady open-loop load through a real `kwake up` (issue #10).

    python -m loadtests.faults dataplane [--quick] [--only NAME ...] [--markdown FILE]

Each scenario starts its own `kwake up`, runs an open-loop load at it (latency counted from each
request's intended send time), injects one fault, and judges what the clients saw against the
gateway's access log (which pod served each request, when it started and ended):

- `kill-one-pod`: SIGKILL the process group of one of three pods while requests are in flight
  on it. Only requests in flight on that pod at the kill may fail, with 502; every other request
  is answered 200; the kubelet restarts the container in the same pod. The gateway sends a GET
  that a pod closed unanswered once more to another pod, so under GETs nothing fails at all.
- `kill-one-pod-post`: the same under POSTs with a body (`loadtests.apps.echo`), which the
  gateway never sends twice: exactly the requests in flight on the killed pod get 502.
- `kill-revision`: SIGKILL every pod of the revision. Requests in flight may fail with 502; the
  ones that arrive meanwhile are held by the gateway and answered 200 once the pods are back.
  Time to recover: from the kill until the first request that arrived after it is answered.
- `never-ready`: a routed revision whose pods can no longer start (`loadtests.apps.gate` with its
  gate closed, its pod killed): its requests get 504 at their response-start deadline, none
  hangs; its Revision and Service say why; another Service keeps answering 200 meanwhile.
- `burst`: a burst far beyond the revision's queue (`kwake up --gateway-queue-depth`, one pod of
  containerConcurrency 1): the requests beyond the bound get 503 at once, none hangs, and the
  gateway's resident memory high-water (VmHWM) stays bounded.
- `burst-at-zero`: the same burst at a revision with no pod (initial-scale 0): exactly the queue
  bound is held for the cold start and answered 200, the rest get 503 at once.

Every scenario counts requests sent, answered, failed by cause, left unanswered, the failures
the fault explains, time to recover and the gateway's VmHWM (`tally.Tally`), and lists each
target it missed as a problem. `--quick` uses the sizes of the pytest suite
(tests/reliability/test_dataplane_faults.py); without it the loads are longer and larger.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.faults import access, posts, stack
from loadtests.faults.stack import PodProcess
from loadtests.faults.tally import Tally, Trace, cause, markdown, render
from loadtests.generator import Phase, Target, open_loop
from loadtests.kwake import KSVC, KwakeUp
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
async def _client(up: KwakeUp) -> AsyncIterator[ApiClient]:
    async with ApiClient(load_connection(up.kubeconfig, environ={})) as client:
        yield client


async def _load(
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


async def _at(trace: Trace, offset: float) -> None:
    await asyncio.sleep(max(0.0, trace.start + offset - time.perf_counter()))


async def _ready_pods(client: ApiClient, service: str, count: int, within: float) -> list[PodProcess]:
    deadline = time.monotonic() + within
    while True:
        pods = [p for p in await stack.pod_processes(client, service) if p.ready]
        if len(pods) >= count:
            return sorted(pods, key=lambda p: p.name)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{service}: {len(pods)} of {count} pods ready after {within:.0f}s")
        await asyncio.sleep(0.1)


async def _replaced(
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


def _gateway_hwm(up: KwakeUp) -> int | None:
    try:
        return stack.memory_kib(stack.gateway_pid(up)).get("VmHWM")
    except LookupError:
        return None


def _ms(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return 1000.0 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _judge_kill(
    tally: Tally,
    trace: Trace,
    entries: Sequence[access.Entry],
    victims: Sequence[PodProcess],
    killed_at: float,
    hold_s: float,
) -> None:
    """The target of a kill: failures only among requests in flight on the killed pods, all 502.

    The access log names the last pod a request was sent to, and the gateway sends a GET that a
    pod closed unanswered once more to another pod: a request in flight on a killed pod then
    shows a surviving pod, and ends at least `hold_s` (the app's hold time) after the kill, since
    it started over. A request in flight on a surviving pod ends sooner than that.
    """
    addresses = {v.address for v in victims}
    in_flight = [e for e in entries if e.in_flight_at(killed_at)]
    on_killed = [e for e in in_flight if e.pod in addresses or e.status >= 500 or e.end - killed_at >= hold_s]
    # A request written to an idle kept-alive connection of a killed pod in the few ms before the
    # gateway reads that connection's close fails too (it cannot tell whether the pod took it,
    # so a POST is not sent again): it went to the killed pod.
    on_killed += [
        e
        for e in entries
        if not e.in_flight_at(killed_at)
        and e.status == 502
        and e.pod in addresses
        and killed_at < e.start <= killed_at + SLACK_S
    ]
    sent_again = [e for e in on_killed if e.status < 500 and e.pod not in addresses]
    tally.allowed = len(on_killed)
    tally.figures["in flight at the kill (all pods)"] = len(in_flight)
    tally.figures["in flight on the killed pods (estimated)"] = len(on_killed)
    tally.figures["of those, answered by another pod"] = len(sent_again)
    tally.check(tally.unanswered == 0, f"{tally.unanswered} requests left unanswered")
    other = {k: v for k, v in tally.failed.items() if k != "502"}
    tally.check(not other, f"failures other than 502: {other}")
    late = [e for e in entries if e.status >= 500 and e.start > killed_at + SLACK_S]
    tally.check(not late, f"{len(late)} requests that reached the gateway after the kill failed: {late[:3]}")
    tally.check(
        tally.failures <= tally.allowed,
        f"{tally.failures} failures, more than the {tally.allowed} requests in flight on the killed pods",
    )
    after = [o for intended, o in trace.events if trace.wall(intended) > killed_at + SLACK_S]
    failed_after = sum(1 for o in after if cause(o) is not None)
    tally.check(failed_after == 0, f"{failed_after} requests sent after the kill failed")
    latencies = [o.done - intended for intended, o in trace.events if trace.wall(intended) > killed_at]
    tally.figures["p99 ms of requests sent after the kill"] = _ms(latencies, 0.99)
    tally.figures["max ms of requests sent after the kill"] = _ms(latencies, 1.0)


# ---------------------------------------------------------------------------------------------
# Scenarios.


def kill_one_pod(size: Size, *, post: bool = False) -> Scenario:
    """With `post`, the load is POSTs with a body to `loadtests.apps.echo`: the gateway cannot
    send those again, so the ones in flight on the killed pod fail with 502, and only those."""
    service = "hello"
    name = "kill-one-pod-post" if post else "kill-one-pod"
    app = "loadtests.apps.echo" if post else "loadtests.apps.hello"
    manifests = (stack.service(service, app, annotations={MIN_SCALE: "3", MAX_SCALE: "3"}),)

    async def run(up: KwakeUp) -> Tally:
        async with _client(up) as client:
            pods = await _ready_pods(client, service, 3, 30)
            trace = Trace()
            phases = [Phase(size.seconds, rate=size.rate)]
            loading = asyncio.create_task(
                _load(up, service, f"/?sleep={size.sleep_ms}", phases, trace, post=post)
            )
            await _at(trace, size.fault_at)
            victim = pods[0]
            killed_at = time.time()
            stack.kill_group(victim.pid)
            back = await _replaced(client, service, pods, [victim], size.seconds + 30)
            finished = await loading
        tally = Tally.from_trace(name, trace)
        entries = access.read(up.access_log, host(service), tally.answered)
        tally.recover_s = back
        tally.gateway_hwm_kib = _gateway_hwm(up)
        tally.figures["pods"] = len(pods)
        tally.figures["killed pod back Ready s"] = float("nan") if back is None else back
        tally.check(finished, "the load did not finish in time")
        tally.check(back is not None, "the killed pod did not come back Ready")
        _judge_kill(tally, trace, entries, [victim], killed_at, size.sleep_ms / 1000)
        if post:
            # Nothing was sent twice: every failure is logged against the killed pod itself.
            elsewhere = [e for e in entries if e.status >= 500 and e.pod != victim.address]
            tally.check(not elsewhere, f"{len(elsewhere)} failures on pods that were not killed")
        return tally

    return Scenario(name, manifests, (service,), (), run)


def kill_revision(size: Size) -> Scenario:
    service = "hello"
    manifests = (stack.service(service, annotations={MIN_SCALE: "2", MAX_SCALE: "2"}),)

    async def run(up: KwakeUp) -> Tally:
        async with _client(up) as client:
            pods = await _ready_pods(client, service, 2, 30)
            trace = Trace()
            phases = [Phase(size.seconds, rate=size.rate)]
            hold_s = size.sleep_ms / 2000
            loading = asyncio.create_task(_load(up, service, f"/?sleep={size.sleep_ms // 2}", phases, trace))
            await _at(trace, size.fault_at)
            killed_at = time.time()
            for pod in pods:
                stack.kill_group(pod.pid)
            back = await _replaced(client, service, pods, pods, size.seconds + 30)
            finished = await loading
        tally = Tally.from_trace("kill-revision", trace)
        entries = access.read(up.access_log, host(service), tally.answered)
        tally.gateway_hwm_kib = _gateway_hwm(up)
        tally.check(finished, "the load did not finish in time")
        tally.check(back is not None, "the killed pods did not come back Ready")
        # Every pod was dead: the first request that arrived after the kill waited for a new one.
        arrived_after = sorted((e for e in entries if e.start > killed_at), key=lambda e: e.start)
        served = [e for e in arrived_after if e.status == 200]
        if served:
            tally.recover_s = min(e.end for e in served) - killed_at
            recovered_at = killed_at + tally.recover_s
            buffered = [e for e in served if e.start < recovered_at]
            tally.figures["requests buffered while no pod was up"] = len(buffered)
            tally.figures["longest buffered wait s"] = max((e.duration for e in buffered), default=0.0)
        tally.check(bool(served), "no request that arrived after the kill was answered 200")
        tally.figures["pods killed"] = len(pods)
        tally.figures["all pods back Ready s"] = float("nan") if back is None else back
        _judge_kill(tally, trace, entries, pods, killed_at, hold_s)
        return tally

    return Scenario("kill-revision", manifests, (service,), (), run)


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


def never_ready(size: Size, gate: Path) -> Scenario:
    """`gate`: a path of a file that does not exist yet (the scenario creates it, closing the gate)."""
    stuck, other = "stuck", "hello"
    manifests = (
        stack.service(other, annotations={MIN_SCALE: "1"}),
        stack.service(
            stuck,
            "loadtests.apps.gate",
            annotations={MIN_SCALE: "1", MAX_SCALE: "2"},
            env={"GATE_FILE": str(gate)},
            spec={"timeoutSeconds": size.deadline_s + 1, "responseStartTimeoutSeconds": size.deadline_s},
            container={"terminationMessagePolicy": "FallbackToLogsOnError"},
        ),
    )

    async def run(up: KwakeUp) -> Tally:
        async with _client(up) as client:
            [pod] = await _ready_pods(client, stuck, 1, 30)
            await asyncio.to_thread(gate.touch)
            stack.kill_group(pod.pid)
            # The restarted container exits at once: wait until no process of the revision runs.
            await _no_process(client, stuck, 15)
            trace, others = Trace(), Trace()
            phases = [Phase(min(size.seconds, 5.0), rate=size.rate / 2)]
            finished = await asyncio.gather(
                _load(up, stuck, "/", phases, trace), _load(up, other, "/", phases, others)
            )
            revision = await _why_not_ready(client, REVISIONS, f"{stuck}-00001", 15)
            ksvc = await _why_not_ready(client, KSVC, stuck, 10)
        tally = Tally.from_trace("never-ready", trace)
        tally.gateway_hwm_kib = _gateway_hwm(up)
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
            f"504s not at the {size.deadline_s}s deadline: {_ms(waits, 0):.0f}-{_ms(waits, 1):.0f} ms",
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

    return Scenario("never-ready", manifests, (other, stuck), (), run)


def burst(size: Size) -> Scenario:
    service = "slow"
    manifests = (
        stack.service(
            service, annotations={MIN_SCALE: "1", MAX_SCALE: "1"}, spec={"containerConcurrency": 1}
        ),
    )
    args = ("--gateway-queue-depth", str(size.queue_depth))

    async def run(up: KwakeUp) -> Tally:
        async with _client(up) as client:
            await _ready_pods(client, service, 1, 30)
        gateway = stack.gateway_pid(up)
        before = stack.memory_kib(gateway)
        trace = Trace()
        finished = await _load(
            up, service, "/?sleep=50", [Phase(0.5, burst=size.burst)], trace, max_connections=size.burst
        )
        after = stack.memory_kib(gateway)
        tally = Tally.from_trace("burst", trace)
        entries = access.read(up.access_log, host(service), tally.answered)
        tally.gateway_hwm_kib = after.get("VmHWM")
        shed = [o.done - intended for intended, o in trace.events if o.status == 503]
        served = [o.done - intended for intended, o in trace.events if o.status == 200]
        at_gateway = [e.duration for e in entries if e.status == 503]
        tally.allowed = len(shed)  # refused on purpose: beyond the bound
        tally.figures["burst"] = size.burst
        tally.figures["queue depth"] = size.queue_depth
        tally.figures["503 p50 ms (client, from the burst instant)"] = _ms(shed, 0.5)
        tally.figures["503 p99 ms (client)"] = _ms(shed, 0.99)
        tally.figures["503 max ms in the gateway"] = _ms(at_gateway, 1.0)
        # The generator opens one connection per request of the burst: its own lateness in
        # starting them is part of the client-side figures above.
        tally.figures["generator start lag max ms"] = 1000.0 * trace.lag.max
        tally.figures["200 max ms (queued, then served)"] = _ms(served, 1.0)
        tally.figures["gateway RSS before MiB"] = before.get("VmRSS", 0) / 1024
        tally.figures["gateway VmHWM after MiB"] = after.get("VmHWM", 0) / 1024
        tally.check(finished, "the load did not finish in time")
        tally.check(tally.unanswered == 0, f"{tally.unanswered} requests left unanswered")
        tally.check(set(tally.failed) <= {"503"}, f"failures other than 503: {tally.failed}")
        tally.check(bool(shed), "the burst never went beyond the queue (no 503)")
        tally.check(tally.ok > 0, "no request of the burst was served")
        tally.check(
            bool(at_gateway) and max(at_gateway) < 0.25,
            f"503s not at once in the gateway: max {_ms(at_gateway, 1.0):.0f} ms",
        )
        growth = after.get("VmHWM", 0) - before.get("VmRSS", 0)
        tally.check(growth < 64 * 1024, f"gateway memory grew {growth / 1024:.0f} MiB in the burst")
        return tally

    return Scenario("burst", manifests, (service,), args, run)


def burst_at_zero(size: Size) -> Scenario:
    """The same burst at a revision with no pod (initial-scale 0): the gateway holds up to the
    queue bound for the cold start and answers the rest 503 at once."""
    service = "cold"
    manifests = (
        stack.config_map("config-autoscaler", {"allow-zero-initial-scale": "true"}),
        stack.service(service, annotations={INITIAL_SCALE: "0", MAX_SCALE: "1"}),
    )
    args = ("--gateway-queue-depth", str(size.queue_depth))

    async def run(up: KwakeUp) -> Tally:
        async with _client(up) as client:
            pods = await stack.pod_processes(client, service)
        gateway = stack.gateway_pid(up)
        before = stack.memory_kib(gateway)
        trace = Trace()
        finished = await _load(
            up, service, "/", [Phase(0.5, burst=size.burst)], trace, max_connections=size.burst
        )
        after = stack.memory_kib(gateway)
        tally = Tally.from_trace("burst-at-zero", trace)
        entries = access.read(up.access_log, host(service), tally.answered)
        tally.gateway_hwm_kib = after.get("VmHWM")
        served = [o.done - intended for intended, o in trace.events if o.status == 200]
        at_gateway = [e.duration for e in entries if e.status == 503]
        tally.allowed = tally.failed.get("503", 0)  # refused on purpose: beyond the bound
        tally.recover_s = max(served, default=None)  # the cold start, as the last queued request saw it
        tally.figures["pods before the burst"] = len(pods)
        tally.figures["burst"] = size.burst
        tally.figures["queue depth"] = size.queue_depth
        tally.figures["held for the cold start, then 200"] = len(served)
        tally.figures["503 max ms in the gateway"] = _ms(at_gateway, 1.0)
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
            f"503s not at once in the gateway: max {_ms(at_gateway, 1.0):.0f} ms",
        )
        return tally

    return Scenario("burst-at-zero", manifests, (service,), args, run)


def scenarios(size: Size, gate: Path) -> list[Scenario]:
    return [
        kill_one_pod(size),
        kill_one_pod(size, post=True),
        kill_revision(size),
        never_ready(size, gate),
        burst(size),
        burst_at_zero(size),
    ]


# ---------------------------------------------------------------------------------------------
# The benchmark.


def run_one(scenario: Scenario) -> Tally:
    """Start a kwake up for the scenario, run it, stop it; what is left running is a problem."""
    up = stack.start(scenario.manifests, scenario.ready, args=scenario.args)
    try:
        tally = asyncio.run(scenario.run(up))
    finally:
        up.stop()
    left = stack.wait_no_processes(up)
    tally.check(not left, f"processes of kwake up left running: {left}")
    return tally


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.faults dataplane", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the pytest suite's sizes")
    parser.add_argument("--only", action="append", default=[], help="scenario name (repeatable)")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    tallies = []
    with tempfile.TemporaryDirectory(prefix="kwake-gate-") as tmp:
        for scenario in scenarios(size, Path(tmp) / "gate-closed"):
            if args.only and scenario.name not in args.only:
                continue
            started = time.monotonic()
            tally = run_one(scenario)
            tally.figures["scenario wall s"] = round(time.monotonic() - started, 1)
            tallies.append(tally)
            print(render(tally), flush=True)
            print(flush=True)
    if args.markdown is not None:
        args.markdown.write_text(markdown(tallies) + "\n")
    print(f"{sum(t.passed for t in tallies)} passed, {sum(not t.passed for t in tallies)} failed")
    return 0 if all(t.passed for t in tallies) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
