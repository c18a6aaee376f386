"""Pod status as Kubernetes reports it, computed from the container statuses (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

POD_IP = "127.0.0.1"
OWN_CONDITIONS = frozenset(
    {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"}
)


def foreign_conditions(status: dict[str, Any]) -> list[dict[str, Any]]:
    """Conditions other writers put on the pod (readiness gates, DisruptionTarget...): kept."""
    return [c for c in status.get("conditions") or [] if c.get("type") not in OWN_CONDITIONS]


def _gates_message(gates: Sequence[str], foreign: Sequence[dict[str, Any]]) -> str:
    """Why the readiness gates hold the pod back, worded as kubelet words it ("" if they do not)."""
    by_type = {str(c.get("type")): c for c in foreign}
    for gate in gates:
        condition = by_type.get(gate)
        if condition is None:
            return f'corresponding condition of pod readiness gate "{gate}" does not exist.'
        if condition.get("status") != "True":
            return f'the status of pod readiness gate "{gate}" is not "True", but {condition.get("status")}'
    return ""


def phase(restart_policy: str, containers: Sequence[dict[str, Any]], terminal: bool = False) -> str:
    """kubelet's getPhase over the container statuses."""
    running = waiting = stopped = succeeded = 0
    for status in containers:
        state = status.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"].get("exitCode") == 0:
                succeeded += 1
        elif "terminated" in (status.get("lastState") or {}):
            stopped += 1
        else:
            waiting += 1
    if waiting > 0 and not terminal:
        return "Pending"
    if running > 0 and not terminal:
        return "Running"
    if stopped > 0 or terminal:
        if terminal:
            return "Succeeded" if stopped == succeeded and waiting == 0 and running == 0 else "Failed"
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _condition(
    kind: str, ok: bool, now: str, previous: dict[str, dict[str, Any]], *, reason: str = "", message: str = ""
) -> dict[str, Any]:
    status = "True" if ok else "False"
    before = previous.get(kind)
    since = before.get("lastTransitionTime") if before and before.get("status") == status else None
    condition: dict[str, Any] = {
        "type": kind,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": since or now,
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def conditions(
    containers: Sequence[dict[str, Any]],
    pod_phase: str,
    now: str,
    previous: Sequence[dict[str, Any]],
    init_containers: Sequence[dict[str, Any]] = (),
    gates: Sequence[str] = (),
    foreign: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled, then the
    `foreign` conditions unchanged. Ready also needs every readiness gate's condition True."""
    before = {str(c.get("type")): c for c in previous}
    incomplete = [
        str(c["name"])
        for c in init_containers
        if (c.get("state") or {}).get("terminated", {}).get("exitCode") != 0
    ]
    unready = [str(c["name"]) for c in containers if not c.get("ready")]
    completed = pod_phase in ("Succeeded", "Failed")
    reason = "PodCompleted" if completed else ("ContainersNotReady" if unready else "")
    message = "" if completed or not unready else f"containers with unready status: [{' '.join(unready)}]"
    ready = not unready and not completed
    gated = _gates_message(gates, foreign) if ready else ""
    own = [
        _condition("PodReadyToStartContainers", not completed, now, before),
        _condition("Initialized", True, now, before, reason="PodCompleted" if completed else "")
        if not incomplete
        else _condition(
            "Initialized",
            False,
            now,
            before,
            reason="ContainersNotInitialized",
            message=f"containers with incomplete status: [{' '.join(incomplete)}]",
        ),
        _condition("Ready", ready, now, before, reason=reason, message=message)
        if not gated
        else _condition("Ready", False, now, before, reason="ReadinessGatesNotReady", message=gated),
        _condition("ContainersReady", ready, now, before, reason=reason, message=message),
        _condition("PodScheduled", True, now, before),
    ]
    return own + [dict(c) for c in foreign if c.get("type") not in OWN_CONDITIONS]


def pod_status(
    restart_policy: str,
    containers: Sequence[dict[str, Any]],
    *,
    now: str,
    start_time: str,
    previous: dict[str, Any],
    terminal: bool = False,
    init_containers: Sequence[dict[str, Any]] = (),
    initialized: bool = True,
    init_failed: bool = False,
    gates: Sequence[str] = (),
    foreign: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    if init_failed:
        pod_phase = "Failed"
    elif not initialized:
        pod_phase = "Failed" if terminal else "Pending"
    else:
        pod_phase = phase(restart_policy, containers, terminal)
    body = {
        "phase": pod_phase,
        "conditions": conditions(
            containers, pod_phase, now, previous.get("conditions") or [], init_containers, gates, foreign
        ),
        "hostIP": POD_IP,
        "hostIPs": [{"ip": POD_IP}],
        "podIP": POD_IP,
        "podIPs": [{"ip": POD_IP}],
        "startTime": start_time,
        "containerStatuses": list(containers),
        "qosClass": "BestEffort",
    }
    if init_containers:
        body["initContainerStatuses"] = list(init_containers)
    return body
