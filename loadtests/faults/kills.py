"""Pods killed under load: one pod (GETs, then POSTs), and every pod of a revision.

Judged against the gateway's access log: failures only among the requests in flight on the
killed pods, all 502; every request sent after the kill answered 200.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from loadtests.faults import access, scenario, stack
from loadtests.faults.stack import PodProcess
from loadtests.faults.tally import Tally, Trace, cause
from loadtests.generator import Phase
from loadtests.kwake import KwakeUp

# How long after a kill the gateway may still be reading the closes of the pod's idle connections
# (its event loop's lag; a few ms on a quiet machine).
STALE_WINDOW_S = 1.0


def _judge_kill(
    tally: Tally,
    trace: Trace,
    entries: Sequence[access.Entry],
    victims: Sequence[PodProcess],
    killed_at: float,
    hold_s: float,
) -> None:
    """The target of a kill: failures only among requests sent to the killed pods, all 502.

    The access log names the last pod a request was sent to, and the gateway sends a GET that a
    pod closed unanswered once more to another pod: a request in flight on a killed pod then
    shows a surviving pod, and ends at least `hold_s` (the app's hold time) after the kill, since
    it started over. A request in flight on a surviving pod ends sooner than that.

    One more kind of request meets the killed pod: one the gateway writes, after the kill, to an
    idle kept-alive connection of that pod whose close its event loop has not read yet (a few ms;
    more on a loaded machine). The pool checks the socket before a request with a body takes an
    idle connection, so this is only a GET, sent once more, which fails only if that again meets
    a dead connection (every pod killed): 502. They are counted apart ("stale").
    """
    addresses = {v.address for v in victims}
    in_flight = [e for e in entries if e.in_flight_at(killed_at)]
    on_killed = [e for e in in_flight if e.pod in addresses or e.status >= 500 or e.end - killed_at >= hold_s]
    stale = [
        e
        for e in entries
        if killed_at < e.start <= killed_at + STALE_WINDOW_S and e.status == 502 and e.pod in addresses
    ]
    sent_again = [e for e in on_killed if e.status < 500 and e.pod not in addresses]
    tally.allowed = len(on_killed) + len(stale)
    tally.figures["in flight at the kill (all pods)"] = len(in_flight)
    tally.figures["in flight on the killed pods (estimated)"] = len(on_killed)
    tally.figures["of those, answered by another pod"] = len(sent_again)
    tally.figures["sent after the kill on a dead kept-alive connection (502)"] = len(stale)
    tally.check(tally.unanswered == 0, f"{tally.unanswered} requests left unanswered")
    other = {k: v for k, v in tally.failed.items() if k != "502"}
    tally.check(not other, f"failures other than 502: {other}")
    late = [
        e for e in entries if e.status >= 500 and e.start > killed_at + scenario.SLACK_S and e not in stale
    ]
    tally.check(not late, f"{len(late)} requests that reached the gateway after the kill failed: {late[:3]}")
    tally.check(
        tally.failures <= tally.allowed,
        f"{tally.failures} failures, more than the {tally.allowed} requests sent to the killed pods",
    )
    after = [o for intended, o in trace.events if trace.wall(intended) > killed_at + scenario.SLACK_S]
    failed_after = sum(1 for o in after if cause(o) is not None)
    tally.check(
        failed_after <= len(stale), f"{failed_after} requests sent after the kill failed ({len(stale)} stale)"
    )
    latencies = [o.done - intended for intended, o in trace.events if trace.wall(intended) > killed_at]
    tally.figures["p99 ms of requests sent after the kill"] = scenario.ms(latencies, 0.99)
    tally.figures["max ms of requests sent after the kill"] = scenario.ms(latencies, 1.0)


def kill_one_pod(size: scenario.Size, *, post: bool = False) -> scenario.Scenario:
    """With `post`, the load is POSTs with a body to `loadtests.apps.echo`: the gateway cannot
    send those again, so the ones in flight on the killed pod fail with 502, and only those."""
    service = "hello"
    name = "kill-one-pod-post" if post else "kill-one-pod"
    app = "loadtests.apps.echo" if post else "loadtests.apps.hello"
    manifests = (stack.service(service, app, annotations={scenario.MIN_SCALE: "3", scenario.MAX_SCALE: "3"}),)

    async def run(up: KwakeUp) -> Tally:
        async with scenario.client(up) as client:
            pods = await scenario.ready_pods(client, service, 3, 30)
            trace = Trace()
            phases = [Phase(size.seconds, rate=size.rate)]
            loading = asyncio.create_task(
                scenario.load(up, service, f"/?sleep={size.sleep_ms}", phases, trace, post=post)
            )
            await scenario.at(trace, size.fault_at)
            victim = pods[0]
            killed_at = time.time()
            stack.kill_group(victim.pid)
            dead_at = await stack.wait_exited(victim.pid)
            back = await scenario.replaced(client, service, pods, [victim], size.seconds + 30)
            finished = await loading
        tally = Tally.from_trace(name, trace)
        entries = access.read(up.access_log, scenario.host(service), tally.answered)
        tally.recover_s = back
        tally.gateway_hwm_kib = scenario.gateway_hwm(up)
        tally.figures["pods"] = len(pods)
        tally.figures["killed pod back Ready s"] = float("nan") if back is None else back
        tally.check(finished, "the load did not finish in time")
        tally.check(back is not None, "the killed pod did not come back Ready")
        _judge_kill(tally, trace, entries, [victim], killed_at, size.sleep_ms / 1000)
        if post:
            # Nothing was sent twice: every failure is logged against the killed pod itself.
            elsewhere = [e for e in entries if e.status >= 500 and e.pod != victim.address]
            tally.check(not elsewhere, f"{len(elsewhere)} failures on pods that were not killed")
            # The pool checks an idle connection before a request with a body takes it; a POST
            # written while the killed process was still dying was in flight on it, like any
            # other. Only one that reached the gateway once the pod had exited must not fail.
            tally.figures["killed pod took ms to exit"] = round((dead_at - killed_at) * 1000, 1)
            dead = [
                e
                for e in entries
                if e.status == 502 and e.pod == victim.address and e.start > dead_at + scenario.SLACK_S
            ]
            tally.check(not dead, f"{len(dead)} POSTs written to a connection of a pod that had exited")
        return tally

    return scenario.Scenario(name, manifests, (service,), (), run)


def kill_revision(size: scenario.Size) -> scenario.Scenario:
    service = "hello"
    manifests = (stack.service(service, annotations={scenario.MIN_SCALE: "2", scenario.MAX_SCALE: "2"}),)

    async def run(up: KwakeUp) -> Tally:
        async with scenario.client(up) as client:
            pods = await scenario.ready_pods(client, service, 2, 30)
            trace = Trace()
            phases = [Phase(size.seconds, rate=size.rate)]
            hold_s = size.sleep_ms / 2000
            loading = asyncio.create_task(
                scenario.load(up, service, f"/?sleep={size.sleep_ms // 2}", phases, trace)
            )
            await scenario.at(trace, size.fault_at)
            killed_at = time.time()
            for pod in pods:
                stack.kill_group(pod.pid)
            back = await scenario.replaced(client, service, pods, pods, size.seconds + 30)
            finished = await loading
        tally = Tally.from_trace("kill-revision", trace)
        entries = access.read(up.access_log, scenario.host(service), tally.answered)
        tally.gateway_hwm_kib = scenario.gateway_hwm(up)
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

    return scenario.Scenario("kill-revision", manifests, (service,), (), run)
