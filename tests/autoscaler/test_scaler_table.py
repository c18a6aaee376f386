"""scaler.settle case by case: the scale-to-zero and bounds table of Knative's scaler tests,
and the Active condition table of kpa.go's computeActiveCondition."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autoscaler.kpa import scaler

NOW = 10_000.0
WINDOW = 60.0
GRACE = 30.0


def settle(
    desired: int,
    *,
    status: int,
    since: float,
    ready: int = 1,
    min_scale: int = 0,
    max_scale: int = 0,
    initial: int = 1,
    initialized: bool = True,
    reachable: bool = True,
    scale_to_zero: bool = True,
    retention: float = 0.0,
    proxy_since: float = math.nan,
    ebc: float = -111.0,
    reason: int = scaler.NO_REASON,
) -> tuple[int, bool, str, str]:
    out = scaler.settle(
        scaler.ScalerInputs(
            now=NOW,
            desired=np.array([desired]),
            excess_burst_capacity=np.array([ebc]),
            ready=np.array([ready]),
            reachable=np.array([reachable]),
            min_scale=np.array([min_scale]),
            max_scale=np.array([max_scale]),
            initial_scale=np.array([initial]),
            enable_scale_to_zero=np.array([scale_to_zero]),
            grace_period=np.array([GRACE]),
            pod_retention=np.array([retention]),
            stable_window=np.array([WINDOW]),
            activation_timeout=np.array([630.0]),
        ),
        scaler.PodAutoscalerState(
            active=np.array([status]),
            reason=np.array([reason]),
            active_since=np.array([since]),
            initialized=np.array([initialized]),
            proxy_since=np.array([proxy_since]),
        ),
    )
    return (
        int(out.want[0]),
        bool(out.apply[0]),
        scaler.STATUS_NAMES[int(out.state.active[0])],
        scaler.REASON_NAMES[int(out.state.reason[0])],
    )


A, OFF, U = scaler.ACTIVE, scaler.INACTIVE, scaler.ACTIVATING


@pytest.mark.parametrize(
    ("label", "desired", "kwargs", "want", "apply"),
    [
        (
            "waits a stable window of activity: keeps one",
            0,
            {"status": A, "since": NOW - WINDOW + 1},
            1,
            True,
        ),
        (
            "active a stable window: marked inactive, no scaling",
            0,
            {"status": A, "since": NOW - WINDOW},
            0,
            False,
        ),
        (
            "inactive for the grace period: to zero",
            0,
            {"status": OFF, "since": NOW - GRACE, "ready": 1},
            0,
            True,
        ),
        (
            "just before grace, gateway just joined",
            0,
            {"status": OFF, "since": NOW - GRACE + 1, "proxy_since": NOW - 1},
            0,
            False,
        ),
        (
            "just before grace, gateway long in path",
            0,
            {"status": OFF, "since": NOW - 1, "proxy_since": NOW - GRACE},
            0,
            True,
        ),
        (
            "retention not met though proxied long",
            0,
            {"status": OFF, "since": NOW - 40, "retention": 50.0, "proxy_since": NOW - 999},
            0,
            False,
        ),
        (
            "retention met, proxied long",
            0,
            {"status": OFF, "since": NOW - 50, "retention": 50.0, "proxy_since": NOW - 999},
            0,
            True,
        ),
        ("does not scale while activating", 0, {"status": U, "since": NOW - 10}, -1, False),
        ("activation timed out", 0, {"status": U, "since": NOW - 631}, 0, True),
        ("min-scale before grace", 0, {"status": OFF, "since": NOW - 1, "min_scale": 2}, 2, True),
        (
            "min-scale ignored when unreachable",
            0,
            {"status": A, "since": NOW - 1, "min_scale": 2, "reachable": False},
            1,
            True,
        ),
        ("scales up to max-scale", 10, {"status": A, "since": NOW - 1, "max_scale": 8}, 8, True),
        (
            "scales up an inactive revision",
            10,
            {"status": OFF, "since": NOW - GRACE / 2, "ready": 0},
            10,
            True,
        ),
        ("no metrics, no scaling from zero", -1, {"status": OFF, "since": NOW - 1, "ready": 0}, -1, False),
        ("no metrics at 12 pods", -1, {"status": A, "since": NOW - 1, "ready": 12}, -1, False),
        ("scale to zero disabled", 0, {"status": A, "since": NOW - 999, "scale_to_zero": False}, 1, True),
        (
            "scale to zero disabled, min 2",
            0,
            {"status": A, "since": NOW - 999, "scale_to_zero": False, "min_scale": 2},
            2,
            True,
        ),
        (
            "scale to zero disabled, unknown",
            -1,
            {"status": A, "since": NOW - 999, "scale_to_zero": False},
            -1,
            False,
        ),
        (
            "initial scale until initialized",
            1,
            {"status": U, "since": NOW - 1, "initial": 3, "initialized": False},
            3,
            True,
        ),
        (
            "activating and unknown: min-scale applies",
            -1,
            {"status": U, "since": NOW - 1, "min_scale": 2, "ready": 0},
            2,
            True,
        ),
    ],
)
def test_scale_table(label: str, desired: int, kwargs: dict[str, object], want: int, apply: bool) -> None:
    got_want, got_apply, _, _ = settle(desired, **kwargs)  # type: ignore[arg-type]
    assert (got_want, got_apply) == (want, apply), label


@pytest.mark.parametrize(
    ("desired", "ready", "status", "min_scale", "new_status", "new_reason"),
    [
        (0, 3, A, 0, "False", "NoTraffic"),
        (5, 0, A, 0, "Unknown", "Queued"),
        (5, 1, U, 0, "True", ""),
        (-1, 0, OFF, 0, "False", "NoTraffic"),  # unknown, fewer than min, inactive: stays inactive
        (-1, 0, U, 0, "Unknown", "Queued"),  # stays activating
        (-1, 0, A, 0, "Unknown", "Queued"),  # active with no pods left: activating
        (-1, 1, OFF, 0, "False", ""),  # enough pods but inactive: stays inactive
        (-1, 1, U, 0, "True", ""),
        (-1, 1, A, 0, "True", ""),
        (3, 2, A, 3, "Unknown", "Queued"),  # below min-scale
    ],
)
def test_active_condition_table(
    desired: int, ready: int, status: int, min_scale: int, new_status: str, new_reason: str
) -> None:
    # Long enough active or inactive for the scale-to-zero steps; activating, well within its timeout.
    since = NOW - 5 if status == U else NOW - 999
    _, _, got_status, got_reason = settle(
        desired, status=status, since=since, ready=ready, min_scale=min_scale
    )
    assert (got_status, got_reason) == (new_status, new_reason)


def test_timed_out_activation_is_marked_timed_out() -> None:
    assert settle(0, status=U, since=NOW - 631, ready=0)[2:] == ("False", "TimedOut")


def test_proxy_clock_follows_the_sks_mode() -> None:
    def proxy_after(want_desired: int, ebc: float, status: int) -> float:
        out = scaler.settle(
            scaler.ScalerInputs(
                now=NOW,
                desired=np.array([want_desired]),
                excess_burst_capacity=np.array([ebc]),
                ready=np.array([3]),
                reachable=np.array([True]),
                min_scale=np.array([0]),
                max_scale=np.array([0]),
                initial_scale=np.array([1]),
                enable_scale_to_zero=np.array([True]),
                grace_period=np.array([GRACE]),
                pod_retention=np.array([0.0]),
                stable_window=np.array([WINDOW]),
                activation_timeout=np.array([630.0]),
            ),
            scaler.PodAutoscalerState(
                active=np.array([status]),
                reason=np.array([0]),
                active_since=np.array([NOW - 999]),
                initialized=np.array([True]),
                proxy_since=np.array([math.nan]),
            ),
        )
        return float(out.state.proxy_since[0])

    assert proxy_after(3, -10.0, A) == NOW  # negative burst capacity: the gateway is needed
    assert math.isnan(proxy_after(3, 10.0, A))  # enough headroom: serve directly
    assert proxy_after(-1, 10.0, OFF) == NOW  # unknown and inactive
    assert proxy_after(0, 10.0, A) == NOW  # want 0: marked inactive, the gateway takes over
