"""PodAutoscaler conditions, written by the autoscaler (pa_lifecycle.go).

Ready = Active + ScaleTargetInitialized. kwake has no ServerlessService, so Knative's SKSReady
dependent is left out. A PA scaled to zero is Active=False (NoTraffic), hence Ready=False; the
Revision reads that as "inactive", not as failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from serving.api.conditions import ConditionSet

READY: Final = "Ready"
ACTIVE: Final = "Active"
SCALE_TARGET_INITIALIZED: Final = "ScaleTargetInitialized"
CONDITIONS: Final = ConditionSet(READY, (ACTIVE, SCALE_TARGET_INITIALIZED))

REASON_QUEUED: Final = "Queued"
REASON_NO_TRAFFIC: Final = "NoTraffic"
REASON_TIMED_OUT: Final = "TimedOut"
MESSAGE_QUEUED: Final = "Requests to the target are being buffered as resources are provisioned."

Status = Mapping[str, Any] | None


def initialize(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.initialize(status, now)


def mark_active(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_true(status, ACTIVE, now)


def mark_activating(status: Status, reason: str, message: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_unknown(status, ACTIVE, reason, message, now)


def mark_inactive(status: Status, reason: str, message: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_false(status, ACTIVE, reason, message, now)


def mark_scale_target_initialized(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_true(status, SCALE_TARGET_INITIALIZED, now)


def set_scales(status: Status, desired: int | None, actual: int | None) -> dict[str, Any]:
    out = dict(status or {})
    for key, value in (("desiredScale", desired), ("actualScale", actual)):
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out
