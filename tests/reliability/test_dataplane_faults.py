"""Data-path faults under a steady open-loop load through a real `kwake up` (issue #10).

Each test starts its own `kwake up`, runs one scenario of `loadtests.faults.dataplane` at the
quick sizes (40 req/s for 5 s, or a burst of 400), and checks the scenario's own verdict (its
problems: every request answered or failed with a counted cause, failures only where the fault
killed the request's pod) and the figures that say so. The fixture fails a test that leaves
any process of its `kwake up` running. `python -m loadtests.faults dataplane` runs the same
scenarios longer and prints their tables.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.faults import dataplane
from loadtests.faults.tally import Tally, render
from tests.reliability.conftest import StartKwake

# A whole kwake up per test: its own start is bounded at 120 s (stack.start), so the test must
# outlast that to report why it did not start rather than a bare timeout.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def _run(kwake_up: StartKwake, scenario: dataplane.Scenario) -> Tally:
    up = kwake_up(scenario.manifests, scenario.ready, args=scenario.args)
    tally = await scenario.run(up)
    print(render(tally))
    return tally


async def test_killing_one_pod_fails_only_requests_in_flight_on_it(kwake_up: StartKwake) -> None:
    tally = await _run(kwake_up, dataplane.kill_one_pod(dataplane.QUICK))
    assert tally.problems == []
    assert tally.sent == tally.answered == 200
    assert set(tally.failed) <= {"502"} and tally.failures <= tally.allowed
    # The kubelet restarted the killed container in its pod, and it serves again.
    assert tally.recover_s is not None and tally.recover_s < 10


async def test_killing_one_pod_under_posts_fails_exactly_its_requests_with_502(kwake_up: StartKwake) -> None:
    # POSTs with a body are never sent twice: the ones in flight on the killed pod get 502.
    tally = await _run(kwake_up, dataplane.kill_one_pod(dataplane.QUICK, post=True))
    assert tally.problems == []
    assert tally.sent == tally.answered == 200
    assert set(tally.failed) <= {"502"} and tally.failures <= tally.allowed
    assert tally.ok >= tally.sent - tally.allowed


async def test_killing_every_pod_buffers_new_requests_until_pods_are_back(kwake_up: StartKwake) -> None:
    tally = await _run(kwake_up, dataplane.kill_revision(dataplane.QUICK))
    assert tally.problems == []
    assert tally.unanswered == 0 and set(tally.failed) <= {"502"}
    assert tally.failures <= tally.allowed
    # Requests arrived while no pod was up; the gateway held them and they were answered 200.
    assert int(tally.figures.get("requests buffered while no pod was up", 0)) > 0
    assert tally.recover_s is not None and tally.recover_s < 10


async def test_a_revision_that_cannot_become_ready_answers_504_at_its_deadline(
    kwake_up: StartKwake, tmp_path: Path
) -> None:
    tally = await _run(kwake_up, dataplane.never_ready(dataplane.QUICK, tmp_path / "gate-closed"))
    assert tally.problems == []
    assert tally.failed == {"504": tally.sent} and tally.sent > 0
    assert float(tally.figures["504 latency min s"]) >= dataplane.QUICK.deadline_s - 0.05
    assert "ExitCode1" in str(tally.figures["revision Ready"])
    assert "gate closed" in str(tally.figures["service Ready"])


async def test_a_burst_beyond_the_queue_gets_503_at_once_and_memory_stays_bounded(
    kwake_up: StartKwake,
) -> None:
    tally = await _run(kwake_up, dataplane.burst(dataplane.QUICK))
    assert tally.problems == []
    assert tally.unanswered == 0 and set(tally.failed) == {"503"}
    assert 0 < tally.ok <= tally.sent - tally.failed["503"]
    assert float(tally.figures["503 max ms in the gateway"]) < 250
    assert tally.gateway_hwm_kib is not None and tally.gateway_hwm_kib < 256 * 1024


async def test_a_burst_at_a_revision_at_zero_holds_the_queue_bound_for_the_cold_start(
    kwake_up: StartKwake,
) -> None:
    tally = await _run(kwake_up, dataplane.burst_at_zero(dataplane.QUICK))
    assert tally.problems == []
    assert tally.figures["pods before the burst"] == 0
    # The queue's bound waited for the pod and was answered (more only if the pod came up before
    # the whole burst arrived); the rest were refused.
    assert tally.ok >= dataplane.QUICK.queue_depth
    assert tally.failed == {"503": tally.sent - tally.ok} and tally.ok < tally.sent
