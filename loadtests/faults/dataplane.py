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
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from loadtests.faults import stack
from loadtests.faults.kills import kill_one_pod, kill_revision
from loadtests.faults.overload import burst, burst_at_zero, never_ready
from loadtests.faults.scenario import FULL, QUICK, Scenario, Size
from loadtests.faults.tally import Tally, markdown, render

__all__ = [
    "FULL",
    "QUICK",
    "Scenario",
    "Size",
    "burst",
    "burst_at_zero",
    "kill_one_pod",
    "kill_revision",
    "main",
    "never_ready",
    "run_one",
    "scenarios",
]


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
