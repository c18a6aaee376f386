"""Control-plane faults of the operator (mid-reconcile), localkube (API server, controllers,
kubelet) and `kwake up` itself (see `loadtests.faults.control_plane`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import aiohttp

from loadtests.faults import stack
from loadtests.faults.components import (
    MemoryWatch,
    component_pid,
    component_pids,
    kill,
    wait_port,
    wait_restarted,
)
from loadtests.faults.control_steps import (
    EPSILON,
    K8S_SERVICES,
    REVISIONS,
    Pace,
    Plan,
    _template_env_patch,
    alive,
    api,
    base_tally,
    check_routes_rebuilt,
    first_ok_done,
    hello,
    kubelet_starts,
    sleep_until,
    split_failures,
    wait_serving,
    with_load,
)
from loadtests.faults.tally import Tally, Trace, cause
from loadtests.generator import Phase
from loadtests.kwake import KSVC, PODAUTOSCALERS, ROOT, KwakeUp
from localkube.client import DEPLOYMENTS, ApiClient, ApiError
from serving.api import keys


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


def operator_restart(pace: Pace, converge_within: float = 20.0, *, after: str = "revision") -> Plan:
    """Kill the operator as soon as the update's Revision exists (`after="revision"`), or its
    Deployment (`after="deployment"`: the Revision's children half made)."""
    waited_for = (
        (REVISIONS, "hello-00002") if after == "revision" else (DEPLOYMENTS, "hello-00002-deployment")
    )

    async def run(up: KwakeUp) -> Tally:
        async with MemoryWatch(up) as memory, api(up) as client:

            async def fault(trace: Trace) -> tuple[float, float, float, int, float]:
                await sleep_until(trace.start + pace.before)
                await client.patch(KSVC, "hello", _template_env_patch("2"), "default")
                patched = time.perf_counter()
                while await client.get_or_none(*waited_for, "default") is None:
                    if time.perf_counter() - patched > 10:
                        raise TimeoutError(f"no {waited_for[1]} within 10 s of the update")
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
        tally = base_tally(f"operator SIGKILL once {waited_for[1]} exists", trace, memory)
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
