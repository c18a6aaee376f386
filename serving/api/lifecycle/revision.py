"""Revision conditions: Ready = ResourcesAvailable + ContainerHealthy; Active is informational.

Source: knative/serving pkg/apis/serving/v1/revision_lifecycle.go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from serving.api.conditions import ConditionSet, get

READY: Final = "Ready"
RESOURCES_AVAILABLE: Final = "ResourcesAvailable"
CONTAINER_HEALTHY: Final = "ContainerHealthy"
ACTIVE: Final = "Active"
CONDITIONS: Final = ConditionSet(READY, (RESOURCES_AVAILABLE, CONTAINER_HEALTHY))

REASON_DEPLOYING: Final = "Deploying"
REASON_NOT_OWNED: Final = "NotOwned"
REASON_PROGRESS_DEADLINE_EXCEEDED: Final = "ProgressDeadlineExceeded"
REASON_CONTAINER_MISSING: Final = "ContainerMissing"

Status = Mapping[str, Any] | None


def initialize(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.initialize(status, now)


def mark_resources_available_true(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_true(status, RESOURCES_AVAILABLE, now)


def mark_resources_available_false(status: Status, reason: str, message: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_false(status, RESOURCES_AVAILABLE, reason, message, now)


def mark_resources_available_unknown(status: Status, reason: str, message: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_unknown(status, RESOURCES_AVAILABLE, reason, message, now)


def mark_container_healthy_true(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_true(status, CONTAINER_HEALTHY, now)


def mark_container_healthy_false(status: Status, reason: str, message: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_false(status, CONTAINER_HEALTHY, reason, message, now)


def mark_container_healthy_unknown(status: Status, reason: str, message: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_unknown(status, CONTAINER_HEALTHY, reason, message, now)


def mark_active_true(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_true(status, ACTIVE, now)


def mark_active_false(status: Status, reason: str, message: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_false(status, ACTIVE, reason, message, now)


def mark_active_unknown(status: Status, reason: str, message: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_unknown(status, ACTIVE, reason, message, now)


def mark_deploying(status: Status, reason: str, now: float) -> dict[str, Any]:
    out = mark_resources_available_unknown(status, reason, "", now)
    return mark_container_healthy_unknown(out, reason, "", now)


def mark_not_owned(status: Status, kind: str, name: str, now: float) -> dict[str, Any]:
    message = f'There is an existing {kind} "{name}" that we do not own.'
    return mark_resources_available_false(status, REASON_NOT_OWNED, message, now)


def mark_progress_deadline_exceeded(status: Status, message: str, now: float) -> dict[str, Any]:
    return mark_resources_available_false(status, REASON_PROGRESS_DEADLINE_EXCEEDED, message, now)


def mark_container_missing(status: Status, message: str, now: float) -> dict[str, Any]:
    return mark_container_healthy_false(status, REASON_CONTAINER_MISSING, message, now)


def mark_container_exiting(status: Status, exit_code: int, message: str, now: float) -> dict[str, Any]:
    """A user container that terminated: reason ExitCode<N>, with its termination message."""
    return mark_container_healthy_false(
        status, f"ExitCode{exit_code}", f"Container failed with: {message}".rstrip(), now
    )


def deployment_ready_state(deployment_status: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """(status, reason, message) of a Deployment seen as one Ready condition.

    Knative's TransformDeploymentStatus: a Progressing=False or ReplicaFailure=True condition
    fails it; Available=True (which also holds at zero replicas) makes it ready; otherwise it
    is still Deploying.
    """
    conds = {c.get("type"): c for c in (deployment_status or {}).get("conditions") or []}
    prog = conds.get("Progressing")
    if prog is not None and prog.get("status") == "False":
        return "False", prog.get("reason", ""), prog.get("message", "")
    failure = conds.get("ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return "False", failure.get("reason", ""), failure.get("message", "")
    avail = conds.get("Available")
    if avail is not None and avail.get("status") == "True":
        return "True", "", ""
    return "Unknown", REASON_DEPLOYING, ""


def propagate_deployment_status(
    status: Status, deployment_status: Mapping[str, Any] | None, now: float
) -> dict[str, Any]:
    state, reason, message = deployment_ready_state(deployment_status)
    if state == "True":
        return mark_resources_available_true(status, now)
    if state == "False":
        return mark_resources_available_false(status, reason, message, now)
    return mark_resources_available_unknown(status, reason, message, now)


def propagate_autoscaler_status(
    status: Status, pa_status: Mapping[str, Any] | None, now: float
) -> dict[str, Any]:
    """Replicas and Active from the PodAutoscaler, as Knative's PropagateAutoscalerStatus."""
    out = dict(status or {})
    pa = pa_status or {}
    for src, dst in (("actualScale", "actualReplicas"), ("desiredScale", "desiredReplicas")):
        value = pa.get(src)
        if value is not None and int(value) >= 0:
            out[dst] = int(value)
        else:
            out.pop(dst, None)
    ready = get(pa, "Ready")
    if ready is None:
        return mark_active_unknown(out, REASON_DEPLOYING, "", now)
    initialized = get(pa, "ScaleTargetInitialized")
    is_initialized = initialized is not None and initialized.is_true
    res = get(out, RESOURCES_AVAILABLE)
    res_unavailable = res is not None and res.is_false
    if is_initialized and not res_unavailable:
        out = mark_resources_available_true(out, now)
        out = mark_container_healthy_true(out, now)
    if ready.is_true:
        out = mark_active_true(out, now)
        out = mark_resources_available_true(out, now)
        return mark_container_healthy_true(out, now)
    if ready.is_false:
        if not is_initialized and not res_unavailable:
            out = mark_resources_available_false(
                out, REASON_PROGRESS_DEADLINE_EXCEEDED, "Initial scale was never achieved", now
            )
        return mark_active_false(out, ready.reason, ready.message, now)
    return mark_active_unknown(out, ready.reason, ready.message, now)
