"""What the Deployment controller should do to a Deployment's pods: pure functions, no I/O.

kwake's Deployment controller manages pods directly (no ReplicaSets). The pods of one pod
template share a `pod-template-hash` label and are named `{deployment}-{hash}-{random5}`, as
a ReplicaSet's pods would be; `{deployment}-{hash}` plays the ReplicaSet's part in messages.

`plan_pods(deployment, pods, now)` decides which pods to create and which to delete, following
kube's RollingUpdate (maxSurge / maxUnavailable from the spec, resolved as kube does) and
Recreate strategies; on scale-down it deletes the pods kube would (not ready first, then the
youngest; see `pods.deletion_rank`).
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from localkube.controllers import pods as podutil

Obj = dict[str, Any]

POD_TEMPLATE_HASH = "pod-template-hash"
# kube's rand.SafeEncodeString alphabet: no vowels, no confusable characters.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_GENERATE_NAME = 58


def template_hash(template: Mapping[str, Any]) -> str:
    """A short stable hash of a pod template, spelled as kube spells pod-template-hash."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"))
    value = int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:4], "big")
    return "".join(_ALPHABET[ord(ch) % len(_ALPHABET)] for ch in str(value))


def random_suffix(rng: random.Random, length: int = 5) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class DeploymentSpec:
    """The fields of a Deployment the controller acts on, with kube's defaults."""

    namespace: str
    name: str
    uid: str
    generation: int
    replicas: int
    template: Mapping[str, Any]
    template_hash: str
    recreate: bool
    max_surge: int
    max_unavailable: int
    min_ready_seconds: int
    progress_deadline_seconds: int | None
    paused: bool

    @property
    def revision_name(self) -> str:
        """The name kube's ReplicaSet for the current template would have."""
        return f"{self.name}-{self.template_hash}"

    @classmethod
    def from_body(cls, deployment: Mapping[str, Any]) -> DeploymentSpec:
        meta = podutil.meta(deployment)
        spec = deployment.get("spec") or {}
        replicas = spec.get("replicas")
        replicas = 1 if replicas is None else max(0, int(replicas))
        template = spec.get("template") or {}
        strategy = spec.get("strategy") or {}
        recreate = strategy.get("type") == "Recreate"
        rolling = strategy.get("rollingUpdate") or {}
        surge = _resolve(rolling.get("maxSurge", "25%"), replicas, round_up=True)
        unavailable = _resolve(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            surge = 1  # kube's validation forbids both zero; never deadlock if it slipped through
        deadline = spec.get("progressDeadlineSeconds", 600)
        return cls(
            namespace=str(meta.get("namespace") or "default"),
            name=str(meta.get("name") or ""),
            uid=str(meta.get("uid") or ""),
            generation=int(meta.get("generation") or 0),
            replicas=replicas,
            template=template,
            template_hash=template_hash(template),
            recreate=recreate,
            max_surge=0 if recreate else surge,
            max_unavailable=0 if recreate else unavailable,
            min_ready_seconds=int(spec.get("minReadySeconds") or 0),
            # kube: MaxInt32 means "no deadline".
            progress_deadline_seconds=None
            if deadline is None or int(deadline) >= 2**31 - 1
            else int(deadline),
            paused=bool(spec.get("paused")),
        )


def _resolve(value: Any, total: int, *, round_up: bool) -> int:
    """kube's intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = int(value[:-1])
        except ValueError:
            return 0
        scaled = percent * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def build_pod(deployment: Mapping[str, Any], spec: DeploymentSpec) -> Obj:
    """A new pod for the current template (named by `generateName`; the caller picks the name)."""
    template_meta = spec.template.get("metadata") or {}
    labels = {**(template_meta.get("labels") or {}), POD_TEMPLATE_HASH: spec.template_hash}
    metadata: Obj = {
        "generateName": f"{spec.revision_name}-"[:_MAX_GENERATE_NAME],
        "namespace": spec.namespace,
        "labels": labels,
        "ownerReferences": [
            {
                "apiVersion": str(deployment.get("apiVersion") or "apps/v1"),
                "kind": str(deployment.get("kind") or "Deployment"),
                "name": spec.name,
                "uid": spec.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(template_meta["annotations"])
    if template_meta.get("finalizers"):
        metadata["finalizers"] = list(template_meta["finalizers"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": copy.deepcopy(dict(spec.template.get("spec") or {})),
    }


@dataclass(frozen=True)
class PodActions:
    """Pods to create (bodies for the current template) and pods to delete (whole objects)."""

    creates: tuple[Obj, ...] = ()
    deletes: tuple[Obj, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.creates and not self.deletes


def is_current(pod: Mapping[str, Any], spec: DeploymentSpec) -> bool:
    labels = podutil.meta(pod).get("labels") or {}
    return labels.get(POD_TEMPLATE_HASH) == spec.template_hash


def plan_pods(
    deployment: Mapping[str, Any], pods: Sequence[Mapping[str, Any]], now: datetime.datetime
) -> PodActions:
    """The pod creations and deletions that move `pods` (the Deployment's own) toward its spec."""
    spec = DeploymentSpec.from_body(deployment)
    if podutil.meta(deployment).get("deletionTimestamp"):
        return PodActions()  # the garbage collector removes the pods
    active = [p for p in pods if podutil.is_active(p)]
    new = [p for p in active if is_current(p, spec)]
    old = [p for p in active if not is_current(p, spec)]
    if spec.paused and old:
        return PodActions()
    if spec.recreate:
        return _plan_recreate(deployment, spec, pods, new, old)
    if not old:
        return _scale(deployment, spec, new, spec.replicas)
    return _plan_rolling(deployment, spec, active, new, old, now)


def _by_deletion_rank(pods: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(pods, key=lambda p: (podutil.deletion_rank(p), str(podutil.meta(p).get("name"))))


def _scale(
    deployment: Mapping[str, Any], spec: DeploymentSpec, current: Sequence[Mapping[str, Any]], target: int
) -> PodActions:
    if len(current) < target:
        return PodActions(creates=tuple(build_pod(deployment, spec) for _ in range(target - len(current))))
    if len(current) > target:
        doomed = _by_deletion_rank(current)[: len(current) - target]
        return PodActions(deletes=tuple(dict(p) for p in doomed))
    return PodActions()


def _plan_recreate(
    deployment: Mapping[str, Any],
    spec: DeploymentSpec,
    pods: Sequence[Mapping[str, Any]],
    new: Sequence[Mapping[str, Any]],
    old: Sequence[Mapping[str, Any]],
) -> PodActions:
    if old:
        return PodActions(deletes=tuple(dict(p) for p in old))
    if any(podutil.is_terminating(p) and not is_current(p, spec) for p in pods):
        return PodActions()  # Recreate: no new pod until every old one is gone
    return _scale(deployment, spec, new, spec.replicas)


def _plan_rolling(
    deployment: Mapping[str, Any],
    spec: DeploymentSpec,
    active: Sequence[Mapping[str, Any]],
    new: Sequence[Mapping[str, Any]],
    old: Sequence[Mapping[str, Any]],
    now: datetime.datetime,
) -> PodActions:
    replicas = spec.replicas

    def available(pod: Mapping[str, Any]) -> bool:
        return podutil.is_available(pod, spec.min_ready_seconds, now)

    # Scale the new pods up within the surge allowance (kube's NewRSNewReplicas), or down to spec.
    deletes: list[Mapping[str, Any]] = []
    creates = 0
    if len(new) > replicas:
        deletes.extend(_by_deletion_rank(new)[: len(new) - replicas])
        new_target = replicas
    else:
        room = max(0, replicas + spec.max_surge - len(active))
        new_target = min(replicas, len(new) + room)
        creates = new_target - len(new)
    # Scale the old pods down as far as availability allows (kube's reconcileOldReplicaSets).
    min_available = replicas - spec.max_unavailable
    new_available = sum(1 for p in new if available(p) and p not in deletes)
    total = len(active) + creates - len(deletes)
    max_scaled_down = total - min_available - (new_target - new_available)
    if max_scaled_down > 0:
        ranked_old = _by_deletion_rank(old)
        # Unhealthy old pods first: they give no availability, and they would block the rollout.
        unhealthy = [p for p in ranked_old if not available(p)][:max_scaled_down]
        deletes.extend(unhealthy)
        all_available = sum(1 for p in active if available(p) and p not in deletes)
        budget = all_available - min_available
        if budget > 0:
            healthy = [p for p in ranked_old if available(p)]
            deletes.extend(healthy[:budget])
    return PodActions(
        creates=tuple(build_pod(deployment, spec) for _ in range(creates)),
        deletes=tuple(dict(p) for p in deletes),
    )
