"""Facts about pods that controllers share: active, ready, available, owned by, ranked for deletion."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

Obj = dict[str, Any]

TERMINAL_PHASES = frozenset(("Succeeded", "Failed"))


def parse_time(value: Any) -> datetime.datetime | None:
    """An RFC 3339 timestamp (`2024-01-02T03:04:05Z`, with or without fraction) as aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return bool(meta(pod).get("deletionTimestamp"))


def is_active(pod: Mapping[str, Any]) -> bool:
    """Counts toward replicas: not being deleted and not finished (as kube's FilterActivePods)."""
    return not is_terminating(pod) and (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES


def ready_condition(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return condition
    return None


def is_ready(pod: Mapping[str, Any]) -> bool:
    condition = ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def ready_since(pod: Mapping[str, Any]) -> datetime.datetime | None:
    condition = ready_condition(pod)
    if condition is None or condition.get("status") != "True":
        return None
    return parse_time(condition.get("lastTransitionTime"))


def available_at(pod: Mapping[str, Any], min_ready_seconds: int) -> datetime.datetime | None:
    """When the pod became (or will become) available: ready for `min_ready_seconds`; None if not ready."""
    if not is_ready(pod):
        return None
    since = ready_since(pod)
    if since is None or min_ready_seconds <= 0:
        # Ready without a transition time: count it available now rather than never.
        return since or datetime.datetime.min.replace(tzinfo=datetime.UTC)
    return since + datetime.timedelta(seconds=min_ready_seconds)


def is_available(pod: Mapping[str, Any], min_ready_seconds: int, now: datetime.datetime) -> bool:
    at = available_at(pod, min_ready_seconds)
    return at is not None and at <= now


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid of the object's controlling owner (ownerReferences[].controller), if any."""
    for ref in meta(obj).get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller"):
            uid = ref.get("uid")
            return str(uid) if uid else None
    return None


def controller_ref(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in meta(obj).get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller"):
            return ref
    return None


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_rank(pod: Mapping[str, Any]) -> tuple[int, int, int, float, int, float]:
    """Sort key: pods to delete first come first (kube's ActivePods ordering).

    Unscheduled before scheduled; Pending before Unknown before Running; not ready before
    ready; ready for less time before longer; more restarts before fewer; newer before older.
    """
    status = pod.get("status") or {}
    scheduled = 1 if (pod.get("spec") or {}).get("nodeName") else 0
    phase = _PHASE_RANK.get(str(status.get("phase") or "Pending"), 0)
    ready = 1 if is_ready(pod) else 0
    since = ready_since(pod)
    # Ready more recently goes first: negate the timestamp so larger (newer) sorts earlier.
    ready_key = -since.timestamp() if since is not None else 0.0
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    created = parse_time(meta(pod).get("creationTimestamp"))
    created_key = -created.timestamp() if created is not None else 0.0
    return (scheduled, phase, ready, ready_key, -restarts, created_key)
