"""kwake's own components killed and restarted under steady open-loop load (issue #10).

Each test runs one scenario of `loadtests.faults.control_plane` at the QUICK pace (30 req/s for a
few seconds) against its own `kwake up`, and asserts the scenario found no problem: every request
sent was answered or failed with a cause, failures happened only where the fault itself kills
the request (named in each docstring), and the component came back. The `kwake_up` fixture fails
the test if any process of that kwake up is alive after it stopped.

A known gateway bug (activator/, not this suite's to fix) turns a failure into an xfail only when
it is the scenario's sole problem, so the test passes once the bug is fixed and fails on
anything else.
"""

from __future__ import annotations

import pytest

from loadtests.faults import control_plane
from loadtests.faults.tally import Tally, render
from tests.reliability.conftest import StartKwake

# A whole kwake up per test: its own start is bounded at 120 s (stack.start), so the test must
# outlast that to report why it did not start rather than a bare timeout.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
# The gateway bug a restarted gateway shows: activator/cli.py opens the data port before the
# cluster routing source has synced, so a request in that moment gets 404 for a known host.
ROUTES_NOT_REBUILT = {control_plane.ROUTES_NOT_REBUILT: "gateway answers before its routes synced"}


def assert_passed(tally: Tally, known: dict[str, str] | None = None) -> None:
    """No problem; or only problems starting with a `known` prefix (-> xfail with its reason)."""
    print(render(tally))
    for prefix, reason in (known or {}).items():
        if tally.problems and all(problem.startswith(prefix) for problem in tally.problems):
            pytest.xfail(f"{reason}: {tally.problems}")
    assert tally.problems == [], render(tally)


async def run(kwake_up: StartKwake, plan: control_plane.Plan) -> Tally:
    up = kwake_up(plan.manifests, plan.ready, args=plan.args)
    return await plan.run(up)


async def test_gateway_sigkill_refuses_only_while_down_and_rebuilds_its_routes(kwake_up: StartKwake) -> None:
    """SIGKILL of kwake up's only gateway process; its supervisor starts a new one at once.

    Allowed failures, all ending between the kill and the new gateway listening: requests in
    flight on the killed process (reset, or refused when the generator sends a GET whose
    kept-alive connection died once more) and connections refused: nobody else could answer
    them. After it listens, every request is answered 200 (from a rebuilt routing table).
    """
    tally = await run(kwake_up, control_plane.gateway_kill(control_plane.QUICK))
    assert float(tally.figures["restart s"]) < 1.0  # restarted at once, not after a back-off
    assert_passed(tally, ROUTES_NOT_REBUILT)


async def test_gateway_worker_sigkill_leaves_the_other_worker_serving(kwake_up: StartKwake) -> None:
    """`kwake up --gateway-workers 2`, SIGKILL worker 1 of the gateway.

    Allowed failures: requests in flight on (or accepted into the backlog of) the killed worker,
    failed within 0.5 s of the kill. Every request sent after the kill is answered 200: the
    surviving worker holds the port (SO_REUSEPORT); the gateway starts worker 1 again.
    """
    tally = await run(kwake_up, control_plane.gateway_worker_kill(control_plane.QUICK))
    assert tally.figures["workers alive after"] == 2
    assert_passed(tally, ROUTES_NOT_REBUILT)


async def test_gateway_sigterm_answers_every_buffered_request(kwake_up: StartKwake) -> None:
    """SIGTERM the gateway while it holds 20 requests for a revision at zero whose pod needs 3 s
    to start: it drains, answers all 20 with 200 from the new pod, then exits and is restarted.

    Allowed failures: connections refused from the SIGTERM until the restarted gateway listens
    (kwake up runs one gateway: while it drains nothing else accepts).
    """
    tally = await run(kwake_up, control_plane.gateway_drain(control_plane.QUICK))
    assert int(tally.figures["queued at SIGTERM"]) >= 20
    assert tally.figures["answered of those sent before SIGTERM"] == tally.figures["sent before SIGTERM"]
    assert_passed(tally, ROUTES_NOT_REBUILT)


async def test_autoscaler_sigkill_keeps_the_scale_and_resumes_in_panic(kwake_up: StartKwake) -> None:
    """SIGKILL the autoscaler while a revision runs 2+ pods under load.

    No request may fail. The Deployment is never scaled below the pods ready at the kill, the
    restarted autoscaler starts that revision in panic (Knative's rule for a decider created
    over more than one ready pod), and decides and writes a status within 4 s of its restart.
    """
    tally = await run(kwake_up, control_plane.autoscaler_restart(control_plane.QUICK))
    assert tally.figures["panic after restart"] == 1.0
    assert_passed(tally)


async def test_autoscaler_down_at_a_cold_start_still_scales_from_zero(kwake_up: StartKwake) -> None:
    """The first requests for a revision at zero arrive while the autoscaler is down (SIGKILLed
    just before; the gateway's poke is refused).

    No request may fail: the gateway holds them, and the restarted autoscaler scales the
    revision up from the gateway's next stats, so all are answered 200.
    """
    tally = await run(kwake_up, control_plane.autoscaler_cold_start(control_plane.QUICK))
    assert tally.figures["of those answered 200"] == tally.figures["first requests (burst at t=0)"]
    assert_passed(tally)


async def test_operator_sigkill_mid_reconcile_converges_without_duplicates(kwake_up: StartKwake) -> None:
    """SIGKILL the operator right after an update created hello-00002 (before it finished the
    Configuration and the Revision's children).

    No request may fail. Afterwards exactly hello-00001 and hello-00002 exist, each with one
    Deployment and one PodAutoscaler it controls, none orphaned, and the Service is Ready with
    all traffic on hello-00002 within 20 s of the kill.
    """
    tally = await run(kwake_up, control_plane.operator_restart(control_plane.QUICK))
    assert tally.figures["revisions"] == "hello-00001, hello-00002"
    assert tally.recover_s is not None and tally.recover_s < 20
    assert_passed(tally)


async def test_localkube_sigkill_keeps_serving_and_leaves_no_orphan(kwake_up: StartKwake) -> None:
    """SIGKILL localkube (API server, controllers, kubelet) under load; kwake up restarts it.

    No request may fail: the gateway keeps its routes and pods while the API is away. The new
    kubelet adopts the pod processes the old one left (same pids keep serving, no restart), so
    no pod runs two processes and no old process is orphaned; a change made after the restart
    reaches the operator, kubelet and gateway (their watches resumed).
    """
    tally = await run(kwake_up, control_plane.localkube_restart(control_plane.QUICK))
    assert tally.figures["pods adopted (same pid)"] == tally.figures["pods before"]
    assert tally.figures["old pod processes alive, not adopted"] == 0
    assert_passed(tally)


async def test_kwake_up_sigkill_then_up_again_adopts_the_pods_and_kills_the_rest(
    kwake_up: StartKwake,
) -> None:
    """SIGKILL `kwake up` itself: its components live on, orphaned (the old gateway keeps
    serving). A new `kwake up` on the same state dir kills them (pids recorded in the state
    dir), and its kubelet adopts the pods the old localkube left.

    Allowed failures: connections refused or cut from the moment the new kwake up kills the old
    gateway until its own listens (one gateway port). Afterwards every request 200; no process
    of the old components left; every pod the same process as before.
    """
    tally = await run(kwake_up, control_plane.up_crash(control_plane.QUICK))
    assert tally.figures["pods adopted (same pid)"] == tally.figures["pods before"] == 2
    assert_passed(tally, ROUTES_NOT_REBUILT)
