"""From the decider's desired scale to the replicas to apply and the PodAutoscaler's Active
condition (knative `pkg/reconciler/autoscaling/kpa/{scaler.go,kpa.go}`), for many revisions.

Per revision, level-based on every tick:

* an unknown desired scale (-1, no data yet) is left alone unless the PA is activating;
* bounds: min-scale only when the revision is reachable, max-scale (0 = unbounded), and until the
  scale target was once initialized, min = max(min, initial-scale) when initial-scale > 1 and the
  revision is reachable;
* a desired scale of 0: enable-scale-to-zero=false keeps 1; an activation that has not succeeded
  within progress deadline + 30 s goes to 0 (TimedOut); an Active PA keeps 1 pod until it has been
  active a whole stable window, then is marked inactive without scaling; an Inactive PA scales to
  0 once inactive for max(grace, pod retention), or, with the pod retention met, once the gateway
  has been proxying for the grace period (pod retention only holds reachable revisions);
* the Active condition: NoTraffic when want = 0, Queued while fewer pods than needed are ready,
  Active once they are.

kwake's gateway is always in the data path, so Knative's activator probe before scale-to-zero
always succeeds here. The proxy clock still follows Knative's SKS mode (Proxy when want = 0, when
the excess burst capacity is negative, or when want is unknown and the PA inactive), so the grace
period costs the same time it costs on Knative.
"""

from __future__ import annotations

import dataclasses
from typing import Final

import numpy as np

from autoscaler.kpa.buckets import BoolArray, FloatArray, IntArray

# Active condition status, as small ints in arrays.
ACTIVATING: Final = 0  # Active=Unknown
ACTIVE: Final = 1  # Active=True
INACTIVE: Final = 2  # Active=False
STATUS_NAMES: Final = ("Unknown", "True", "False")

NO_REASON: Final = 0
QUEUED: Final = 1
NO_TRAFFIC: Final = 2
TIMED_OUT: Final = 3
REASON_NAMES: Final = ("", "Queued", "NoTraffic", "TimedOut")
REASON_MESSAGES: Final = (
    "",
    "Requests to the target are being buffered as resources are provisioned.",
    "The target is not receiving traffic.",
    "The target could not be activated.",
)

SCALE_UNKNOWN: Final = -1


@dataclasses.dataclass(frozen=True)
class PodAutoscalerState:
    active: IntArray  # ACTIVATING / ACTIVE / INACTIVE
    reason: IntArray
    active_since: FloatArray  # when the Active condition last changed (status or reason)
    initialized: BoolArray  # ScaleTargetInitialized: the initial scale was reached once
    proxy_since: FloatArray  # NaN while the gateway would be out of the path (Serve mode)


@dataclasses.dataclass(frozen=True)
class ScalerInputs:
    now: float
    desired: IntArray  # the decider's last valid desired scale, -1 when unknown
    excess_burst_capacity: FloatArray
    ready: IntArray
    reachable: BoolArray
    min_scale: IntArray
    max_scale: IntArray
    initial_scale: IntArray
    enable_scale_to_zero: BoolArray
    grace_period: FloatArray
    pod_retention: FloatArray
    stable_window: FloatArray
    activation_timeout: FloatArray  # progress deadline + 30 s


@dataclasses.dataclass(frozen=True)
class ScalerOutputs:
    want: IntArray  # the PA's desiredScale; -1 when unknown
    apply: BoolArray  # whether `want` should be written to the scale subresource
    state: PodAutoscalerState


def _bounded(inputs: ScalerInputs, initialized: BoolArray) -> IntArray:
    lower = np.where(inputs.reachable, inputs.min_scale, 0)
    use_initial = (inputs.initial_scale > 1) & ~initialized & inputs.reachable
    lower = np.where(use_initial, np.maximum(lower, inputs.initial_scale), lower)
    bounded = np.where(inputs.desired < lower, lower, inputs.desired)
    bounded = np.where((inputs.max_scale != 0) & (bounded > inputs.max_scale), inputs.max_scale, bounded)
    result: IntArray = bounded.astype(np.int64)
    return result


def _scale_to_zero(inputs: ScalerInputs, state: PodAutoscalerState) -> tuple[IntArray, BoolArray]:
    """(want, apply) for revisions whose bounded desired scale is 0, per handleScaleToZero."""
    now = inputs.now
    in_status_for = now - state.active_since
    activating = state.active == ACTIVATING
    active = state.active == ACTIVE

    timed_out = in_status_for > inputs.activation_timeout
    active_long_enough = in_status_for >= inputs.stable_window

    proxy_for = np.where(np.isnan(state.proxy_since), 0.0, now - state.proxy_since)
    # A revision no route reaches is not kept for its pod retention (knative #13812, PR #15161).
    retention = np.where(inputs.reachable, inputs.pod_retention, 0.0)
    inactive_long_enough = in_status_for >= np.maximum(inputs.grace_period, retention)
    retention_pending = (retention > 0) & (in_status_for < retention)
    proxied_long_enough = proxy_for >= inputs.grace_period
    inactive_apply = inactive_long_enough | (~retention_pending & proxied_long_enough)

    want = np.where(
        activating,
        np.where(timed_out, 0, SCALE_UNKNOWN),
        np.where(active, np.where(active_long_enough, 0, 1), 0),
    )
    apply = np.where(activating, timed_out, np.where(active, ~active_long_enough, inactive_apply))
    return want.astype(np.int64), apply.astype(np.bool_)


def _active_condition(
    inputs: ScalerInputs, want: IntArray, state: PodAutoscalerState
) -> tuple[IntArray, IntArray, BoolArray]:
    """(status, reason, initialized) per computeActiveCondition."""
    lower = np.where(inputs.reachable, inputs.min_scale, 0)
    min_ready = np.where(state.initialized, np.maximum(lower, 1), np.maximum(lower, inputs.initial_scale))
    initialized = state.initialized | (inputs.ready >= min_ready)

    activating = state.active == ACTIVATING
    inactive = state.active == INACTIVE
    wants_or_not_inactive = (want > 0) | ~inactive

    to_zero = (want == 0) | (min_ready == 0)
    short = ~to_zero & (inputs.ready < min_ready)
    enough = ~to_zero & ~short

    status = state.active.copy()
    reason = state.reason.copy()
    zero_reason = np.where(activating & (min_ready > 0), TIMED_OUT, NO_TRAFFIC)
    status = np.where(to_zero, INACTIVE, status)
    reason = np.where(to_zero, zero_reason, reason)
    status = np.where(short, np.where(wants_or_not_inactive, ACTIVATING, INACTIVE), status)
    reason = np.where(short, np.where(wants_or_not_inactive, QUEUED, NO_TRAFFIC), reason)
    status = np.where(enough & wants_or_not_inactive, ACTIVE, status)
    reason = np.where(enough & wants_or_not_inactive, NO_REASON, reason)
    return status.astype(np.int64), reason.astype(np.int64), initialized


def settle(inputs: ScalerInputs, state: PodAutoscalerState) -> ScalerOutputs:
    unknown_and_idle = (inputs.desired < 0) & (state.active != ACTIVATING)
    bounded = _bounded(inputs, state.initialized)
    zero_want, zero_apply = _scale_to_zero(inputs, state)
    nonzero = bounded != 0
    keep_one = ~nonzero & ~inputs.enable_scale_to_zero
    want = np.where(nonzero, bounded, np.where(keep_one, 1, zero_want))
    apply = np.where(nonzero | keep_one, True, zero_apply)
    want = np.where(unknown_and_idle, inputs.desired, want).astype(np.int64)
    apply = np.where(unknown_and_idle, False, apply).astype(np.bool_)

    # The gateway-in-path clock, read above from the previous tick as Knative reads the SKS.
    proxy = (
        (want == 0)
        | (inputs.excess_burst_capacity < 0)
        | ((want == SCALE_UNKNOWN) & (state.active == INACTIVE))
    )
    proxy_since = np.where(
        proxy, np.where(np.isnan(state.proxy_since), inputs.now, state.proxy_since), np.nan
    )

    status, reason, initialized = _active_condition(inputs, want, state)
    changed = (status != state.active) | (reason != state.reason)
    active_since = np.where(changed, inputs.now, state.active_since)
    return ScalerOutputs(
        want=want,
        apply=apply,
        state=PodAutoscalerState(
            active=status,
            reason=reason,
            active_since=active_since,
            initialized=initialized,
            proxy_since=proxy_since,
        ),
    )
