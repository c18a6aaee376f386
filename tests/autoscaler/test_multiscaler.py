"""MultiScaler bookkeeping (resizing, removal, snapshots) and invariants under random load."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from autoscaler.kpa.annotations import resolve_spec
from autoscaler.kpa.config import AutoscalerConfig
from autoscaler.kpa.decisions import RevisionKey
from autoscaler.kpa.multiscaler import MultiScaler
from tests.autoscaler.kpa_harness import G

CFG = AutoscalerConfig()
A = RevisionKey("ns", "a")
B = RevisionKey("ns", "b")


def test_a_window_change_keeps_recent_data() -> None:
    scaler = MultiScaler()
    now = 100.0
    scaler.add(A, resolve_spec({}, 0, CFG), now, ready=1)
    for _ in range(60):
        now += 1
        scaler.record(now, [A], [10.0], [1.0])
    for _ in range(6):
        now += 1
        scaler.record(now, [A], [100.0], [1.0])
    before = scaler.tick_one(A, now)
    assert before.stable_concurrency == (54 * 10 + 6 * 100) / 60
    scaler.update(A, resolve_spec({f"{G}/window": "6s"}, 0, CFG), now)
    after = scaler.tick_one(A, now)
    assert after.stable_concurrency == 100.0  # the last 6 s, kept across the resize
    scaler.update(A, resolve_spec({f"{G}/metric-aggregation-algorithm": "weighted-exponential"}, 0, CFG), now)
    assert scaler.tick_one(A, now).had_data


def test_removed_revisions_free_their_slot_and_metrics_data() -> None:
    scaler = MultiScaler(capacity=1)
    scaler.add(A, resolve_spec({}, 0, CFG), 0.0, ready=1)
    scaler.record(1.0, [A], [500.0], [5.0])
    scaler.remove(A)
    assert A not in scaler and len(scaler) == 0
    scaler.add(B, resolve_spec({}, 0, CFG), 2.0, ready=1)
    scaler.record(2.0, [B], [0.0], [0.0])
    decision = scaler.tick_one(B, 2.0)
    assert decision.stable_concurrency == 0.0  # nothing of A's data leaked into B's slot
    assert [d.key for d in scaler.tick(2.0).decisions()] == [B]


def test_capacity_grows_past_the_initial_size() -> None:
    scaler = MultiScaler(capacity=2)
    keys = [RevisionKey("ns", f"r{i}") for i in range(9)]
    for key in keys:
        scaler.add(key, resolve_spec({}, 0, CFG), 0.0, ready=1)
    scaler.record(1.0, keys, np.arange(9) * 70.0, np.zeros(9))
    result = scaler.tick(1.0)
    assert sorted(result.keys) == sorted(keys)
    by_key = result.by_key()
    assert [by_key[k].desired_scale for k in keys] == list(range(9))  # ceil(i x 70 / 70)


def test_snapshot_reports_without_deciding() -> None:
    scaler = MultiScaler()
    scaler.add(A, resolve_spec({}, 0, CFG), 0.0, ready=1)
    snap = scaler.snapshot()
    assert snap.keys == [A]
    assert snap.desired[0] == -1
    scaler.record(1.0, [A], [140.0], [0.0])
    assert scaler.snapshot().desired[0] == -1  # still nothing decided
    scaler.tick(1.0)
    assert scaler.snapshot().desired[0] == 2


def test_scale_and_status_change_flags() -> None:
    scaler = MultiScaler()
    scaler.add(A, resolve_spec({}, 0, CFG), 0.0, ready=1)
    scaler.record(1.0, [A], [140.0], [0.0])
    first = scaler.tick(1.0)
    assert first.scale_changed[0] and first.status_changed[0]
    scaler.set_applied(A, int(first.want[0]))
    scaler.record(2.0, [A], [140.0], [0.0])
    second = scaler.tick(2.0)
    assert not second.scale_changed[0] and not second.status_changed[0]
    scaler.invalidate_status(A)
    scaler.record(3.0, [A], [140.0], [0.0])
    assert scaler.tick(3.0).status_changed[0]


loads = st.lists(st.floats(min_value=0, max_value=2000, allow_nan=False), min_size=10, max_size=80)


@settings(max_examples=40, deadline=None)
@given(
    loads=loads,
    ready_lag=st.integers(min_value=0, max_value=3),
    min_scale=st.integers(min_value=0, max_value=3),
    max_scale=st.integers(min_value=0, max_value=12),
)
def test_bounds_rate_limits_and_panic_hold(
    loads: list[float], ready_lag: int, min_scale: int, max_scale: int
) -> None:
    if max_scale and max_scale < min_scale:
        max_scale = min_scale
    annotations = {f"{G}/min-scale": str(min_scale), f"{G}/max-scale": str(max_scale), f"{G}/window": "10s"}
    scaler = MultiScaler()
    scaler.add(A, resolve_spec(annotations, 0, CFG), 0.0, ready=0)
    history: list[int] = []
    ready = 0
    previous = None
    for second, load in enumerate(loads, start=1):
        now = float(second)
        if load:
            scaler.record(now, [A], [load], [load])
        scaler.record_idle(now)
        if second % 2:
            continue
        decision = scaler.tick_one(A, now)
        r = max(1, decision.ready)
        if decision.had_data and previous is not None:
            assert decision.desired_scale <= math.ceil(1000 * r) or decision.panic
            if not decision.panic and not (previous.panic):
                assert decision.desired_scale >= math.floor(r / 2)
            if decision.panic and previous.panic:
                assert decision.desired_scale >= previous.desired_scale  # never down in panic
        if decision.want >= 0:
            assert decision.want >= min_scale
            if max_scale:
                assert decision.want <= max_scale
        previous = decision
        if decision.apply:
            history.append(decision.want)
        # pods become ready `ready_lag` ticks after being asked for
        target = history[-1 - ready_lag] if len(history) > ready_lag else ready
        ready = target
        scaler.observe(A, ready=ready)
