"""Control-plane faults of the autoscaler: SIGKILL under load with several pods, and while a
revision at zero gets its first requests (see `loadtests.faults.control_plane`)."""

from __future__ import annotations

import asyncio
import math
import time

from loadtests.faults import stack
from loadtests.faults.components import (
    MemoryWatch,
    component_pid,
    flag_value,
    kill,
    wait_port,
    wait_restarted,
)
from loadtests.faults.control_steps import (
    Pace,
    Plan,
    api,
    autoscaler_gauges,
    base_tally,
    deployment_scale,
    hello,
    sleep_until,
    with_load,
)
from loadtests.faults.tally import Tally, Trace, cause
from loadtests.generator import Phase
from loadtests.kwake import KwakeUp


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
