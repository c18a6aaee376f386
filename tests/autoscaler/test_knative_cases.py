"""Scenarios from knative/serving's decider tests (pkg/autoscaler/scaling), re-stated here with
their numbers and run against our vectorised decider, one revision at a time.

Knative's test decider uses a 75 % utilization (total = target / 0.75), a panic threshold of 2,
max scale up and down rates of 10 and a 60 s stable window unless a case says otherwise.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from autoscaler.kpa import decider
from autoscaler.kpa.maxwindow import MaxTimeWindow


@dataclasses.dataclass
class One:
    target: float
    tbc: float
    up: float = 10.0
    down: float = 10.0
    threshold: float = 2.0
    window: float = 60.0
    reachable: bool = True
    delay: float = 0.0
    panic_time: float = math.nan
    max_panic_pods: int = 0

    def __post_init__(self) -> None:
        self._delay = MaxTimeWindow(self.delay) if self.delay > 0 else None

    def scale(self, now: float, stable: float, panic: float, ready: int) -> tuple[int, float, bool]:
        out = decider.scale(
            decider.DeciderInputs(
                now=now,
                observed_stable=np.array([stable]),
                observed_panic=np.array([panic]),
                ready=np.array([ready]),
                target=np.array([self.target]),
                total=np.array([self.target / 0.75]),
                target_burst_capacity=np.array([self.tbc]),
                panic_threshold=np.array([self.threshold]),
                max_scale_up_rate=np.array([self.up]),
                max_scale_down_rate=np.array([self.down]),
                stable_window=np.array([self.window]),
                activation_scale=np.array([1]),
                reachable=np.array([self.reachable]),
            ),
            decider.PanicState(np.array([self.panic_time]), np.array([self.max_panic_pods])),
        )
        self.panic_time = float(out.state.panic_time[0])
        self.max_panic_pods = int(out.state.max_panic_pods[0])
        desired = int(out.desired[0])
        if self._delay is not None:
            self._delay.record(now, desired)
            desired = int(self._delay.current())
        return desired, float(out.excess_burst_capacity[0]), bool(out.panicking[0])


def ebc(target: float, tbc: float, panic: float, ready: int) -> float:
    return math.floor(target / 0.75 * ready - tbc - panic)


def test_unpanic_after_a_slow_increase() -> None:
    d = One(target=1, tbc=98)
    assert d.scale(1000.0, 11, 25, ready=10) == (25, ebc(1, 98, 25, 10), True)
    assert d.panic_time == 1000.0
    assert d.scale(1030.0, 30, 41, ready=40)[0] == 41
    assert d.panic_time == 1000.0  # 41 / 40 pods is under the threshold: not renewed
    desired, _, panicking = d.scale(1062.0, 50, 56, ready=55)
    assert (desired, panicking) == (50, False)


def test_panic_extended_while_over_threshold() -> None:
    d = One(target=1, tbc=98)
    d.scale(1000.0, 11, 25, ready=10)
    assert d.scale(1030.0, 30, 80, ready=40)[0] == 80
    assert d.panic_time == 1030.0


def test_stable_mode_decrease_and_scale_to_zero() -> None:
    d = One(target=10, tbc=98)
    assert d.scale(0.0, 100, 100, ready=8)[0] == 10
    assert d.scale(0.0, 50, 50, ready=8)[0] == 5
    z = One(target=10, tbc=75)
    assert z.scale(0.0, 1, 0, ready=1)[0] == 1
    assert z.scale(0.0, 0, 0, ready=1)[0] == 0


def test_exponential_growth_tracked_in_panic() -> None:
    d = One(target=1, tbc=101)
    for ready, load in ((1, 6), (6, 36), (36, 216), (216, 1296), (1296, 1296)):
        desired, value, panicking = d.scale(100.0, load, load, ready=ready)
        assert desired == load
        assert value == ebc(1, 101, load, ready)
    assert panicking


@pytest.mark.parametrize(
    ("case", "stable", "panic", "ready", "want", "want_ebc"),
    [
        (One(target=181, tbc=-1), 21.0, 26.0, 1, 1, -1.0),
        (One(target=10, tbc=0), 50.0, 49.0, 1, 5, 0.0),
        (One(target=10, tbc=100), 50.0, 50.0, 1, 5, ebc(10, 100, 50, 1)),
        (One(target=1, tbc=100, panic_time=95.0, max_panic_pods=5), 50.0, 30.0, 5, 50, ebc(1, 100, 30, 5)),
        (One(target=1, tbc=100, panic_time=95.0, max_panic_pods=5), 20.0, 30.0, 5, 30, ebc(1, 100, 30, 5)),
        (One(target=10, tbc=100), 50.0, 50.0, 5, 5, ebc(10, 100, 50, 5)),
        (One(target=1, tbc=1982, up=1.1), 3.0, 3.1, 2, 3, ebc(1, 1982, 3.1, 2)),
        (One(target=10, tbc=1982, down=1.1), 1.0, 1.0, 100, 90, ebc(10, 1982, 1, 100)),
        (One(target=10, tbc=1982, down=1.1, reachable=False), 1.0, 1.0, 100, 1, ebc(10, 1982, 1, 100)),
        (One(target=10, tbc=84), 50.0, 100.0, 1, 10, ebc(10, 84, 100, 1)),
        (One(target=10, tbc=81), 1000.0, 888.0, 0, 10, math.floor(0 - 81 - 888)),
    ],
)
def test_decider_table(
    case: One, stable: float, panic: float, ready: int, want: int, want_ebc: float
) -> None:
    desired, value, _ = case.scale(100.0, stable, panic, ready)
    assert desired == want
    assert value == want_ebc


def test_panic_then_unpanic_scale_down() -> None:
    d = One(target=10, tbc=93)
    assert d.scale(0.0, 100, 100, ready=1)[0] == 10
    assert d.scale(1.0, 100, 1000, ready=10)[0] == 100
    assert d.scale(31.0, 1, 1, ready=10)[0] == 100  # traffic gone, still in panic
    assert d.scale(62.0, 1, 1, ready=10)[0] == 1  # a stable window later: down, by at most 10x


def test_rate_limits_both_ways() -> None:
    up = One(target=10, tbc=61)
    assert up.scale(0.0, 1000, 1001, ready=1)[0] == 10
    assert up.scale(0.0, 1000, 1001, ready=10)[0] == 100
    down = One(target=10, tbc=61)
    assert down.scale(0.0, 1, 1, ready=100)[0] == 10
    assert down.scale(0.0, 1, 1, ready=10)[0] == 1


def test_scale_down_delay_simple_and_gradual() -> None:
    d = One(target=10, tbc=0, threshold=100, delay=300.0)
    assert d.scale(2.0, 40, 40, ready=0)[0] == 4
    assert d.scale(300.0, 0, 0, ready=0)[0] == 4  # five minutes at zero: not yet
    assert d.scale(302.0, 0, 0, ready=0)[0] == 0
    assert d.scale(540.0, 40, 40, ready=0)[0] == 4
    assert d.scale(600.0, 30, 30, ready=0)[0] == 4  # 4 still dominates
    assert d.scale(660.0, 0, 0, ready=0)[0] == 4
    assert d.scale(840.0, 0, 0, ready=0)[0] == 3  # the 4 scrolled out
    assert d.scale(900.0, 0, 0, ready=0)[0] == 0


def test_zero_delay_scales_down_at_once() -> None:
    d = One(target=10, tbc=0, threshold=100)
    assert d.scale(0.0, 40, 40, ready=0)[0] == 4
    assert d.scale(0.5, 20, 20, ready=0)[0] == 2


@pytest.mark.parametrize(("ready", "panicking", "max_pods"), [(0, False, 0), (1, False, 1), (2, True, 2)])
def test_start_in_panic_only_above_one_pod(ready: int, panicking: bool, max_pods: int) -> None:
    panic_time, max_panic_pods = decider.initial_panic_state(10.0, ready)
    assert (not math.isnan(panic_time)) is panicking
    assert max_panic_pods == max_pods
