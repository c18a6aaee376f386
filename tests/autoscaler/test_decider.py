"""The KPA decision (section 2.4) on a synthetic clock, including Knative's named regressions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autoscaler.kpa import decider
from autoscaler.kpa.config import AutoscalerConfig
from autoscaler.kpa.maxwindow import MaxTimeWindow
from tests.autoscaler.kpa_harness import Clocked, G


def test_a_tick_without_data_is_skipped_and_desired_stays_unknown() -> None:
    rev = Clocked()
    decision = rev.tick()
    assert not decision.had_data
    assert decision.desired_scale == -1
    assert rev.run(10)[-1].desired_scale == -1  # no pods, no traffic: still no data


def test_desired_is_ceil_of_stable_over_target() -> None:
    rev = Clocked()  # CC=0: target 70
    rev.set_ready(3)
    decisions = rev.run(60, concurrency=150.0)
    assert decisions[-1].desired_scale == math.ceil(150 / 70)
    assert decisions[-1].stable_concurrency == 150.0
    assert decisions[-1].target == 70.0


def test_container_concurrency_sets_target() -> None:
    rev = Clocked(container_concurrency=10)  # target 7
    rev.set_ready(3)
    assert rev.run(60, concurrency=21.0)[-1].desired_scale == 3


def test_rps_metric_uses_request_counts() -> None:
    rev = Clocked({f"{G}/metric": "rps"})  # target 140 rps
    rev.set_ready(3)
    decision = rev.run(60, concurrency=1.0, requests=300.0)[-1]
    assert decision.metric == "rps"
    assert decision.stable_rps == 300.0
    assert decision.desired_scale == 3


def test_scale_up_is_limited_by_max_scale_up_rate() -> None:
    rev = Clocked(config=AutoscalerConfig(max_scale_up_rate=2.0))
    rev.set_ready(1)
    assert rev.run(10, concurrency=700.0)[-1].desired_scale == 2  # ceil(2 x 1), not 10
    rev.set_ready(2)
    assert rev.run(2, concurrency=700.0)[-1].desired_scale == 4


def test_scale_down_is_limited_to_half_per_tick() -> None:
    rev = Clocked()
    rev.set_ready(10)
    first = rev.run(2)[-1]
    assert first.desired_scale == 5  # floor(10 / 2) although the load is zero
    rev.set_ready(5)
    assert rev.run(2)[-1].desired_scale == 2
    rev.set_ready(2)
    assert rev.run(2)[-1].desired_scale == 1
    rev.set_ready(1)
    assert rev.run(2)[-1].desired_scale == 0


def test_scale_down_limit_only_when_reachable() -> None:
    rev = Clocked(reachable=False)
    rev.set_ready(10)
    assert rev.run(2)[-1].desired_scale == 0


def test_activation_scale_raises_a_nonzero_want() -> None:
    rev = Clocked({f"{G}/activation-scale": "3"})
    rev.set_ready(1)
    assert rev.run(10, concurrency=5.0)[-1].desired_scale == 3
    quiet = Clocked({f"{G}/activation-scale": "3"})
    quiet.set_ready(1)
    assert quiet.run(70)[-1].desired_scale == 0  # zero stays zero


def test_panic_starts_on_pod_counts_not_raw_concurrency() -> None:
    # dppc / ready >= 2 panics: with 4 ready pods, 7 x 70 concurrency wants 7 < 8 pods: no panic
    rev = Clocked()
    rev.set_ready(4)
    assert not rev.run(6, concurrency=7 * 70.0)[-1].panic
    assert rev.run(6, concurrency=8 * 70.0)[-1].panic


def test_panic_uses_max_of_stable_and_panic_and_never_scales_down() -> None:
    rev = Clocked()
    rev.set_ready(1)
    rev.run(30, concurrency=10.0)
    burst = rev.run(6, concurrency=700.0)[-1]
    assert burst.panic
    assert burst.desired_scale == 10  # from the 6 s panic window
    rev.set_ready(10)
    calm = rev.run(20, concurrency=10.0)
    for decision in calm:
        assert decision.panic
        assert decision.desired_scale == 10  # panic never scales down


def test_panic_ends_a_full_stable_window_after_the_last_tick_over_threshold() -> None:
    rev = Clocked()
    rev.set_ready(1)
    decisions = rev.run(6, concurrency=700.0)
    assert decisions[-1].panic
    last_over = rev.now
    rev.set_ready(10)
    decisions = rev.run(70, concurrency=10.0)
    timeline = [(rev.now - 70 + 2 * (i + 1), d.panic) for i, d in enumerate(decisions)]
    still = [t for t, p in timeline if p]
    over = [t for t, p in timeline if not p]
    assert max(still) <= last_over + 60
    assert min(over) > last_over + 60


def test_panic_is_renewed_while_over_threshold() -> None:
    rev = Clocked(config=AutoscalerConfig(max_scale_up_rate=1.5))
    rev.set_ready(1)
    rev.run(6, concurrency=700.0)
    # Each tick stays over the threshold because the rate limit keeps ready pods short.
    for _ in range(40):
        decision = rev.run(2, concurrency=700.0)[-1]
        assert decision.panic
        rev.set_ready(max(1, decision.desired_scale // 2))
    assert rev.run(2, concurrency=700.0)[-1].panic


def test_leaving_panic_does_not_drop_capacity_at_once() -> None:
    rev = Clocked()
    rev.set_ready(1)
    rev.run(6, concurrency=20 * 70.0)
    rev.set_ready(20)
    decisions = rev.run(80, concurrency=0.0)
    after = [d for d in decisions if not d.panic]
    assert after, "panic should have ended"
    assert after[0].desired_scale == 10  # halved, not dropped to 0


def test_restart_starts_in_panic_holding_the_ready_pods() -> None:
    rev = Clocked(ready=6)
    decision = rev.run(2, concurrency=10.0)[-1]
    assert decision.panic
    assert decision.desired_scale == 6
    single = Clocked(ready=1)
    assert not single.run(2, concurrency=10.0)[-1].panic


def test_scale_down_delay_holds_the_max_over_the_delay() -> None:
    rev = Clocked({f"{G}/scale-down-delay": "20s"})
    rev.set_ready(5)
    rev.run(6, concurrency=5 * 70.0)
    rev.set_ready(5)
    decisions = rev.run(40, concurrency=70.0)
    held = [d.desired_scale for d in decisions[:9]]
    assert min(held) >= 5  # the 5 wanted before the drop is held for the delay
    assert decisions[-1].desired_scale < 5


@pytest.mark.parametrize(("reachable", "desired"), [(True, 3), (False, 0)])
def test_scale_down_delay_ignored_when_unreachable(reachable: bool, desired: int) -> None:
    rev = Clocked({f"{G}/scale-down-delay": "60s", f"{G}/window": "6s"})
    rev.set_ready(3)
    rev.run(10, concurrency=3 * 70.0)
    rev.set_reachable(reachable)
    rev.set_ready(1)  # so that the scale-down rate limit does not hold 3 either
    assert rev.run(10)[-1].desired_scale == desired


def test_scale_down_delay_2s_granularity() -> None:
    window = MaxTimeWindow(4.0)
    window.record(100.0, 5)
    window.record(101.0, 1)  # same 2 s bucket: the larger stays
    assert window.current() == 5
    window.record(102.0, 2)
    assert window.current() == 5
    window.record(104.0, 1)  # index 52 - 50 >= 2 buckets: the 5 leaves
    assert window.current() == 2
    window.record(106.0, 1)
    assert window.current() == 1


@pytest.mark.parametrize(
    ("ready", "total", "tbc", "panic", "ebc"),
    [
        (1, 100.0, 211.0, 0.0, -111.0),
        (2, 100.0, 211.0, 0.0, -11.0),
        (3, 100.0, 211.0, 0.0, 89.0),
        (3, 100.0, 211.0, 89.0, 0.0),
        (3, 100.0, 211.0, 90.0, -1.0),
        (3, 100.0, 211.0, 10.5, 78.0),
        (0, 100.0, 211.0, 0.0, -211.0),
        (5, 10.0, 0.0, 30.0, 0.0),
        (5, 10.0, -1.0, 30.0, -1.0),
    ],
)
def test_excess_burst_capacity_figures(
    ready: int, total: float, tbc: float, panic: float, ebc: float
) -> None:
    got = decider.excess_burst_capacity(
        np.array([ready]), np.array([total]), np.array([tbc]), np.array([panic])
    )
    assert got[0] == ebc


def test_initial_excess_burst_capacity() -> None:
    assert decider.initial_excess_burst_capacity(1, 100.0, 211.0) == -111.0
    assert decider.initial_excess_burst_capacity(3, 100.0, 211.0) == 89.0
    assert decider.initial_excess_burst_capacity(1, 100.0, 0.0) == 0.0
    assert decider.initial_excess_burst_capacity(1, 100.0, -1.0) == -1.0


def test_ebc_with_default_tbc_keeps_the_gateway_needed_below_three_pods() -> None:
    rev = Clocked()
    rev.set_ready(2)
    assert rev.run(10, concurrency=1.0)[-1].excess_burst_capacity < 0
    rev.set_ready(3)
    assert rev.run(10, concurrency=1.0)[-1].excess_burst_capacity >= 0


def test_linear_versus_weighted_exponential() -> None:
    linear = Clocked(config=AutoscalerConfig(stable_window=60.0))
    weighted = Clocked({f"{G}/metric-aggregation-algorithm": "weighted-exponential"})
    for rev in (linear, weighted):
        rev.set_ready(2)
        rev.run(50, concurrency=10.0)
    lin = linear.run(10, concurrency=700.0)[-1]
    wexp = weighted.run(10, concurrency=700.0)[-1]
    # A recent surge moves the weighted stable average much more than the linear one.
    assert lin.stable_concurrency == pytest.approx((50 * 10 + 10 * 700) / 60, abs=1e-5)
    assert wexp.stable_concurrency > 500.0
    assert wexp.desired_scale > lin.desired_scale or wexp.panic


def test_reports_from_several_gateways_in_one_second_are_summed() -> None:
    rev = Clocked()
    rev.set_ready(4)
    for _ in range(6):
        rev.now += 1
        rev.report(100.0)
        rev.report(110.0)  # a second gateway
    decision = rev.tick()
    assert decision.panic_concurrency == 210.0
    assert decision.desired_scale == 3


def test_a_gateway_that_stops_reporting_ages_out() -> None:
    rev = Clocked({f"{G}/window": "6s"})
    rev.set_ready(4)
    for _ in range(6):
        rev.now += 1
        rev.report(100.0)
        rev.report(180.0)
    assert rev.tick().desired_scale == 4
    decisions = rev.run(8, concurrency=100.0)  # the second gateway went away
    assert decisions[-1].stable_concurrency == 100.0
    assert decisions[-1].desired_scale == 2
