"""Control-plane faults of the gateway: SIGKILL of its only process, of one of two workers, and
SIGTERM while it holds buffered requests (see `loadtests.faults.control_plane`)."""

from __future__ import annotations

import asyncio
import math
import signal
import time

from loadtests.faults import stack
from loadtests.faults.components import (
    MemoryWatch,
    component_pid,
    gateway_workers,
    kill,
    wait_port,
    wait_restarted,
)
from loadtests.faults.control_steps import (
    EPSILON,
    Pace,
    Plan,
    api,
    base_tally,
    by_cause,
    check_routes_rebuilt,
    first_ok_done,
    gateway_metrics,
    hello,
    outcomes,
    sleep_until,
    split_failures,
    with_load,
)
from loadtests.faults.tally import Tally, Trace, cause
from loadtests.generator import Phase
from loadtests.kwake import KwakeUp, parse_queue_depth
from localkube.client import PODS
from serving.api import keys


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
