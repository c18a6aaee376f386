"""A Deployment's status as kube's deployment controller computes it: pure, `now` passed in.

Counts (replicas, updatedReplicas, readyReplicas, availableReplicas, unavailableReplicas) come
from the Deployment's active pods; zero counts are omitted, as the Go API omits them.
Conditions follow kube's `syncRolloutStatus`:

- Available: True/MinimumReplicasAvailable when at least replicas - maxUnavailable pods are
  available, else False/MinimumReplicasUnavailable.
- Progressing: True/NewReplicaSetCreated when a new template's first pods are due;
  True/ReplicaSetUpdated whenever the rollout makes progress (lastUpdateTime = now);
  True/NewReplicaSetAvailable once complete; False/ProgressDeadlineExceeded when no progress
  was made for progressDeadlineSeconds.
- ReplicaFailure: True/FailedCreate while the API refuses to create the pods.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from localkube.controllers import pods as podutil
from localkube.controllers.deployment_plan import DeploymentSpec, is_current

Obj = dict[str, Any]

AVAILABLE = "Available"
PROGRESSING = "Progressing"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_RS_CREATED = "NewReplicaSetCreated"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
REPLICA_FAILURE = "ReplicaFailure"
FAILED_CREATE = "FailedCreate"


@dataclass(frozen=True)
class StatusResult:
    """The status to write, and when to look again (a deadline or minReadySeconds), if ever."""

    status: Obj
    requeue_after: float | None


def _condition(
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: datetime.datetime,
    previous: Mapping[str, Any] | None,
) -> Obj:
    stamp = podutil.format_time(now)
    transition = stamp
    if previous is not None and previous.get("status") == status and previous.get("lastTransitionTime"):
        transition = str(previous["lastTransitionTime"])
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }


def _set(conditions: dict[str, Obj], new: Obj) -> None:
    """kube's SetDeploymentCondition: same status and reason keeps the existing entry as is."""
    current = conditions.get(new["type"])
    if (
        current is not None
        and current.get("status") == new["status"]
        and current.get("reason") == new["reason"]
    ):
        return
    conditions[new["type"]] = new


def compute_status(
    deployment: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    now: datetime.datetime,
    *,
    create_failure: str | None = None,
) -> StatusResult:
    """The Deployment's status from its own pods (the ones it controls), at `now`.

    `create_failure` is the API's message when creating a pod failed in this pass: it becomes
    the ReplicaFailure/FailedCreate condition (which Knative reads), dropped once creates work.
    """
    spec = DeploymentSpec.from_body(deployment)
    old_status: Mapping[str, Any] = deployment.get("status") or {}
    active = [p for p in pods if podutil.is_active(p)]
    updated = [p for p in active if is_current(p, spec)]
    ready = sum(1 for p in active if podutil.is_ready(p))
    available = sum(1 for p in active if podutil.is_available(p, spec.min_ready_seconds, now))
    counts = {
        "replicas": len(active),
        "updatedReplicas": len(updated),
        "readyReplicas": ready,
        "availableReplicas": available,
        "unavailableReplicas": max(0, max(spec.replicas, len(active)) - available),
    }
    status: Obj = {"observedGeneration": spec.generation} if spec.generation else {}
    status.update({key: value for key, value in counts.items() if value})

    previous = {
        str(c.get("type")): dict(c) for c in old_status.get("conditions") or [] if isinstance(c, Mapping)
    }
    conditions = dict(previous)
    if available >= spec.replicas - spec.max_unavailable:
        _set(
            conditions,
            _condition(
                AVAILABLE,
                "True",
                MINIMUM_REPLICAS_AVAILABLE,
                "Deployment has minimum availability.",
                now,
                previous.get(AVAILABLE),
            ),
        )
    else:
        _set(
            conditions,
            _condition(
                AVAILABLE,
                "False",
                MINIMUM_REPLICAS_UNAVAILABLE,
                "Deployment does not have minimum availability.",
                now,
                previous.get(AVAILABLE),
            ),
        )
    if create_failure is not None:
        _set(
            conditions,
            _condition(
                REPLICA_FAILURE, "True", FAILED_CREATE, create_failure, now, previous.get(REPLICA_FAILURE)
            ),
        )
    else:
        conditions.pop(REPLICA_FAILURE, None)
    requeue = _progressing(spec, old_status, counts, conditions, previous, now)
    requeue = _earliest(requeue, _next_available(spec, active, now))
    order = [AVAILABLE, PROGRESSING, REPLICA_FAILURE]
    ordered = [conditions[t] for t in order if t in conditions]
    ordered += [c for t, c in conditions.items() if t not in order]
    if ordered:
        status["conditions"] = ordered
    return StatusResult(status, requeue)


def _progressing(
    spec: DeploymentSpec,
    old_status: Mapping[str, Any],
    counts: Mapping[str, int],
    conditions: dict[str, Obj],
    previous: Mapping[str, Obj],
    now: datetime.datetime,
) -> float | None:
    """Update the Progressing condition in place; seconds until the deadline check, if pending."""
    if spec.progress_deadline_seconds is None:
        conditions.pop(PROGRESSING, None)  # kube drops it when there is no deadline
        return None
    rs = spec.revision_name
    current = previous.get(PROGRESSING)
    complete = (
        counts["updatedReplicas"] == spec.replicas
        and counts["replicas"] == spec.replicas
        and counts["availableReplicas"] == spec.replicas
    )
    old_old = int(old_status.get("replicas") or 0) - int(old_status.get("updatedReplicas") or 0)
    new_old = counts["replicas"] - counts["updatedReplicas"]
    progressed = (
        counts["updatedReplicas"] > int(old_status.get("updatedReplicas") or 0)
        or new_old < old_old
        or counts["readyReplicas"] > int(old_status.get("readyReplicas") or 0)
        or counts["availableReplicas"] > int(old_status.get("availableReplicas") or 0)
    )
    # The condition's message names the revision it is about: another name means a new template.
    new_template = current is None or f'"{rs}"' not in str(current.get("message") or "")
    if complete:
        _set(
            conditions,
            _condition(
                PROGRESSING,
                "True",
                NEW_RS_AVAILABLE,
                f'ReplicaSet "{rs}" has successfully progressed.',
                now,
                current,
            ),
        )
    elif new_template:
        # kube creates the new template's ReplicaSet here and restarts the deadline clock.
        conditions[PROGRESSING] = _condition(
            PROGRESSING, "True", NEW_RS_CREATED, f'Created new replica set "{rs}"', now, current
        )
    elif progressed:
        conditions[PROGRESSING] = _condition(
            PROGRESSING, "True", RS_UPDATED, f'ReplicaSet "{rs}" is progressing.', now, current
        )
    elif current is not None and _timed_out(current, spec.progress_deadline_seconds, now):
        _set(
            conditions,
            _condition(
                PROGRESSING, "False", TIMED_OUT, f'ReplicaSet "{rs}" has timed out progressing.', now, current
            ),
        )
    final = conditions.get(PROGRESSING)
    if final is None or final.get("reason") in (NEW_RS_AVAILABLE, TIMED_OUT):
        return None
    since = podutil.parse_time(final.get("lastUpdateTime"))
    if since is None:
        return None
    deadline = since + datetime.timedelta(seconds=spec.progress_deadline_seconds)
    return max(0.0, (deadline - now).total_seconds()) + 0.5


def _timed_out(condition: Mapping[str, Any], deadline_seconds: int, now: datetime.datetime) -> bool:
    reason = condition.get("reason")
    if reason == NEW_RS_AVAILABLE:
        return False
    if reason == TIMED_OUT:
        return True
    since = podutil.parse_time(condition.get("lastUpdateTime"))
    return since is not None and since + datetime.timedelta(seconds=deadline_seconds) < now


def _next_available(
    spec: DeploymentSpec, active: Sequence[Mapping[str, Any]], now: datetime.datetime
) -> float | None:
    """Seconds until the next ready pod passes minReadySeconds (its availability changes then)."""
    if spec.min_ready_seconds <= 0:
        return None
    pending = [
        at for p in active if (at := podutil.available_at(p, spec.min_ready_seconds)) is not None and at > now
    ]
    return (min(pending) - now).total_seconds() + 0.05 if pending else None


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def status_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> Obj | None:
    """A merge patch turning status `old` into `new` (None when equal): removed keys become null."""
    if dict(old) == dict(new):
        return None
    patch: Obj = {key: None for key in old if key not in new}
    patch.update({key: value for key, value in new.items() if old.get(key) != value})
    return patch
