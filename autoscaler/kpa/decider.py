"""The KPA decision of one tick, for many revisions at once (knative `scaling/autoscaler.go`).

All inputs are arrays with one element per revision; nothing here reads a clock or keeps state
between calls: the panic state goes in and the new panic state comes out. Per revision:

1. rate limits: maxUp = ceil(max-scale-up-rate x R), maxDown = floor(R / max-scale-down-rate)
   when the revision is reachable, else 0, where R = max(1, ready);
2. dspc = ceil(stable / target), dppc = ceil(panic / target), each clamped into [maxDown, maxUp];
3. activation-scale > 1 raises a non-zero want to at least activation-scale;
4. panic when dppc / R >= panic threshold (a ratio of pod counts); every tick over it renews the
   panic time; panic ends after a full stable window below it and forgets its maximum;
5. in panic the desired scale is max(stable, panic) and never decreases;
6. the excess burst capacity comes from the panic value: floor(ready x total - TBC - panic).

Scale-down delay (a max over a time window) is applied by the caller with `maxwindow`, because
its window is per revision state of variable size.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from autoscaler.kpa.buckets import BoolArray, FloatArray, IntArray


@dataclasses.dataclass(frozen=True)
class DeciderInputs:
    now: float
    observed_stable: FloatArray
    observed_panic: FloatArray
    ready: IntArray
    target: FloatArray
    total: FloatArray
    target_burst_capacity: FloatArray
    panic_threshold: FloatArray
    max_scale_up_rate: FloatArray
    max_scale_down_rate: FloatArray
    stable_window: FloatArray
    activation_scale: IntArray
    reachable: BoolArray


@dataclasses.dataclass(frozen=True)
class PanicState:
    panic_time: FloatArray  # NaN when not panicking
    max_panic_pods: IntArray


@dataclasses.dataclass(frozen=True)
class DeciderOutputs:
    desired: IntArray
    excess_burst_capacity: FloatArray
    panicking: BoolArray
    state: PanicState


def excess_burst_capacity(
    ready: IntArray, total: FloatArray, target_burst_capacity: FloatArray, observed_panic: FloatArray
) -> FloatArray:
    """0 when TBC=0, -1 when TBC=-1 (unlimited), else floor(ready x total - TBC - panic)."""
    computed = np.floor(ready * total - target_burst_capacity - observed_panic)
    result: FloatArray = np.where(
        target_burst_capacity == 0, 0.0, np.where(target_burst_capacity > 0, computed, -1.0)
    )
    return result


def initial_excess_burst_capacity(initial_scale: int, total: float, target_burst_capacity: float) -> float:
    """A new decider's EBC before any data: initial scale x total - TBC (or 0 / -1)."""
    if target_burst_capacity == 0:
        return 0.0
    if target_burst_capacity < 0:
        return -1.0
    return float(int(initial_scale * total - target_burst_capacity))


def initial_panic_state(now: float, ready: int) -> tuple[float, int]:
    """A decider created over more than one ready pod starts in panic holding that count, so an
    autoscaler restart (which loses the metric history) does not scale the revision down."""
    if ready > 1:
        return now, ready
    return float("nan"), ready


def scale(inputs: DeciderInputs, state: PanicState) -> DeciderOutputs:
    now = inputs.now
    ready_or_one = np.maximum(inputs.ready, 1).astype(np.float64)
    max_up = np.ceil(inputs.max_scale_up_rate * ready_or_one)
    max_down = np.where(inputs.reachable, np.floor(ready_or_one / inputs.max_scale_down_rate), 0.0)

    dspc = np.ceil(inputs.observed_stable / inputs.target)
    dppc = np.ceil(inputs.observed_panic / inputs.target)
    desired_stable = np.minimum(np.maximum(dspc, max_down), max_up).astype(np.int64)
    desired_panic = np.minimum(np.maximum(dppc, max_down), max_up).astype(np.int64)

    activation = inputs.activation_scale
    raise_to_activation = activation > 1
    desired_stable = np.where(
        raise_to_activation & (dspc > 0) & (activation > desired_stable), activation, desired_stable
    )
    desired_panic = np.where(
        raise_to_activation & (dppc > 0) & (activation > desired_panic), activation, desired_panic
    )

    over_threshold = dppc / ready_or_one >= inputs.panic_threshold
    panic_time = state.panic_time
    was_panicking = ~np.isnan(panic_time)
    # `now > panic_time + window`, written so NaN (not panicking) compares False
    calmed = was_panicking & ~over_threshold & (panic_time + inputs.stable_window < now)
    panic_time = np.where(over_threshold, now, np.where(calmed, np.nan, panic_time))
    max_panic_pods = np.where(calmed, 0, state.max_panic_pods)
    panicking = ~np.isnan(panic_time)

    desired = np.where(panicking, np.maximum(desired_stable, desired_panic), desired_stable)
    max_panic_pods = np.where(panicking, np.maximum(max_panic_pods, desired), max_panic_pods)
    desired = np.where(panicking, max_panic_pods, desired)

    ebc = excess_burst_capacity(
        inputs.ready, inputs.total, inputs.target_burst_capacity, inputs.observed_panic
    )
    return DeciderOutputs(
        desired=desired.astype(np.int64),
        excess_burst_capacity=ebc,
        panicking=panicking,
        state=PanicState(panic_time=panic_time, max_panic_pods=max_panic_pods.astype(np.int64)),
    )
