"""Control-plane faults: kwake's own components killed and restarted under steady open-loop load.

    python -m loadtests.faults control [--quick] [--only NAME ...] [--markdown]

Scenarios live in `control_gateway`, `control_autoscaler` and `control_restarts`, over the
shared steps of `control_steps`. Each scenario starts its own `kwake up`, runs an open-loop
load through the gateway, breaks one component, and reports a `Tally` (sent, answered, failed
by cause, unanswered, failures the fault explains, time to recover, memory high-water marks of
every component) with its own figures and the problems found. The pytest suite
(tests/reliability/test_control_plane_faults.py) runs the same scenarios at the QUICK pace and
asserts they pass.

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
* operator-restart: SIGKILL the operator right after an update created the new Revision (-late:
  its Deployment); no duplicate Revision, no orphaned Deployment, Ready on it within seconds.
* localkube-restart: SIGKILL localkube (API server, controllers, kubelet); the gateway keeps
  serving from what it knows; the new kubelet adopts the pod processes the old one left (same
  pids, no restart); a change made afterwards reaches every component.
* up-crash: SIGKILL `kwake up` itself (its components live on, orphaned) and start it again on
  the same state dir: it kills them, its kubelet adopts the pods, service is back in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence

from loadtests.faults import stack
from loadtests.faults.control_autoscaler import autoscaler_cold_start, autoscaler_restart
from loadtests.faults.control_gateway import gateway_drain, gateway_kill, gateway_worker_kill
from loadtests.faults.control_restarts import localkube_restart, operator_restart, up_crash
from loadtests.faults.control_steps import FULL, QUICK, ROUTES_NOT_REBUILT, Pace, Plan
from loadtests.faults.tally import Tally, markdown, render

__all__ = [
    "FULL",
    "QUICK",
    "ROUTES_NOT_REBUILT",
    "SCENARIOS",
    "Pace",
    "Plan",
    "autoscaler_cold_start",
    "autoscaler_restart",
    "gateway_drain",
    "gateway_kill",
    "gateway_worker_kill",
    "localkube_restart",
    "main",
    "operator_restart",
    "run_plan",
    "up_crash",
]

SCENARIOS: dict[str, Callable[[Pace], Plan]] = {
    "gateway-kill": gateway_kill,
    "gateway-worker-kill": gateway_worker_kill,
    "gateway-drain": gateway_drain,
    "autoscaler-restart": autoscaler_restart,
    "autoscaler-cold-start": autoscaler_cold_start,
    "operator-restart": operator_restart,
    "operator-restart-late": lambda pace: operator_restart(pace, after="deployment"),
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
