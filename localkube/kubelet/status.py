"""Pod status as Kubernetes reports it, computed from the container statuses (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

POD_IP = "127.0.0.1"


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
) -> list[dict[str, Any]]:
    """PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled."""
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
    return [
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
        _condition("Ready", ready, now, before, reason=reason, message=message),
        _condition("ContainersReady", ready, now, before, reason=reason, message=message),
        _condition("PodScheduled", True, now, before),
    ]


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
            containers, pod_phase, now, previous.get("conditions") or [], init_containers
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
